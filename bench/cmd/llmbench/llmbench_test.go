package main

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks; the command name holds a space and a ')'.
	line := "1234 (caddy (x) y) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 2000 18446744073709551615"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Errorf("cpu = %v, want 3s", got)
	}
	if _, err := parseStatCPU([]byte("1234 (short) S 1 2")); err == nil {
		t.Error("a short line parsed")
	}
}

func TestCPUTimeOfThisProcess(t *testing.T) {
	if _, err := cpuTime(0); err != nil {
		t.Fatal(err)
	}
}

func TestParseGoroutineTotal(t *testing.T) {
	n, err := parseGoroutineTotal("goroutine profile: total 321\n5 @ 0x43\n")
	if err != nil || n != 321 {
		t.Errorf("= %d, %v", n, err)
	}
	if _, err := parseGoroutineTotal("<html>not a profile"); err == nil {
		t.Error("a non-profile parsed")
	}
}

func TestMedian(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{nan, 5, math.Inf(1)}, 5},
		{nil, nan},
	} {
		got := median(tc.in)
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestChatBody(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stream, use bool
		conv        string
		wantStream  bool
		wantUsage   bool
		wantConv    string
		wantStore   bool
	}{
		{name: "plain"},
		{name: "stream with usage", stream: true, use: true, wantStream: true, wantUsage: true},
		{name: "stream without usage", stream: true, wantStream: true},
		{name: "stored turn", conv: `conv_"1"`, wantConv: `conv_"1"`, wantStore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				Model         string `json:"model"`
				Messages      []struct{ Role, Content string }
				Stream        bool `json:"stream"`
				StreamOptions *struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
				Store        bool   `json:"store"`
				Conversation string `json:"conversation"`
			}
			if err := json.Unmarshal(chatBody("m", tc.stream, tc.use, tc.conv), &got); err != nil {
				t.Fatal(err)
			}
			if got.Model != "m" || len(got.Messages) != 1 || got.Messages[0].Role != "user" || got.Stream != tc.wantStream ||
				(got.StreamOptions != nil) != tc.wantUsage || got.Conversation != tc.wantConv || got.Store != tc.wantStore {
				t.Errorf("body = %+v", got)
			}
		})
	}
}

func TestParseLoad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want load
		ok   bool
	}{
		{"plain-128", load{kind: plainLoad, concurrency: 128}, true},
		{"stream-1", load{kind: streamLoad, concurrency: 1}, true},
		{"burst-100", load{kind: burstLoad, concurrency: 100}, true},
		{"plain", load{}, false},
		{"sprint-3", load{}, false},
		{"plain-0", load{}, false},
	} {
		l, err := parseLoad(tc.in)
		if (err == nil) != tc.ok || l != tc.want {
			t.Errorf("parseLoad(%q) = %v, %v", tc.in, l, err)
		}
		if tc.ok && loadKinds[l.kind]+"-"+strconv.Itoa(l.concurrency) != tc.in {
			t.Errorf("%q reads back as %v", tc.in, l)
		}
	}
}

func TestParseFlags(t *testing.T) {
	var stderr strings.Builder
	o, err := parseFlags([]string{"-quick", "-rounds", "2", "-concurrency", "8, 64"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	// -quick shortens what was not given explicitly.
	if o.rounds != 2 || o.duration != time.Second || o.openStreams != 100 {
		t.Errorf("quick: rounds %d, duration %v, streams %d", o.rounds, o.duration, o.openStreams)
	}
	if len(o.concurrency) != 2 || o.concurrency[1] != 64 || o.profileLoad != "plain-64" {
		t.Errorf("concurrency %v, profile load %q", o.concurrency, o.profileLoad)
	}
	want := []load{{concurrency: 1}, {concurrency: 8}, {concurrency: 64},
		{kind: streamLoad, concurrency: 1}, {kind: burstLoad, concurrency: 1}, {kind: burstLoad, concurrency: 100}}
	if loads := o.loads(); !slices.Equal(loads, want) {
		t.Errorf("loads = %v", loads)
	}
	if o.chunksOf(load{kind: burstLoad}) != 65 || o.chunksOf(load{kind: streamLoad}) != 20 {
		t.Errorf("chunks: burst %d, stream %d", o.chunksOf(load{kind: burstLoad}), o.chunksOf(load{kind: streamLoad}))
	}
	for _, bad := range [][]string{{"-scenarios", "a,x"}, {"-concurrency", "0"}, {"-chunks", "1"}, {"-profile-load", "x"},
		{"-burst-concurrency", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestParseScriptCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_set:calls=12,usec=9\r\ncmdstat_evalsha:calls=40,usec=900,usec_per_call=22.5\r\ncmdstat_eval:calls=2,usec=80\r\n"
	if got := parseScriptCalls(info); got != 42 {
		t.Errorf("script calls = %d, want 42", got)
	}
	if got := parseScriptCalls("# Commandstats\r\ncmdstat_ping:calls=3\r\n"); got != 0 {
		t.Errorf("script calls = %d, want 0", got)
	}
}
