package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// Ten reloads with changed configs (a new model each time, a changed tier,
// a new provider) while 50 streams and a steady request load run: no
// request fails, every stream completes with all its words, new requests
// see each new config at once, and goroutines and sockets return to their
// baseline afterwards.
func TestReloadWithStreamsAndChangingConfig(t *testing.T) {
	const words = 60
	reply := strings.TrimSpace(strings.Repeat("word ", words))
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply, ChunkDelay: 40 * time.Millisecond})
	port := freePort(t)
	config := func(i int) string {
		header := ""
		if i == 10 {
			header = "header X-Final-Config yes" // a changed provider: the old one is closed
		}
		llm := fmt.Sprintf(`provider up openai {
			base_url %s/v1
			%s
		}
		model stream-model {
			deployment up
		}`, up.URL, header)
		for j := 0; j <= i; j++ {
			llm += fmt.Sprintf("\n\t\tmodel extra-%d {\n\t\t\tdeployment up\n\t\t}", j)
		}
		if i >= 5 {
			llm += fmt.Sprintf("\n\t\tprovider up2 openai {\n\t\t\tbase_url %s/v1\n\t\t}\n\t\tmodel second-provider {\n\t\t\tdeployment up2\n\t\t}", up.URL)
		}
		return testCaddyfile(t, siteOptions{
			Port:   port,
			LLM:    llm,
			Routes: fmt.Sprintf("llm_auth\n\t\tllm_rate_limit /v1/chat/completions {\n\t\t\tguest %d/min\n\t\t}", 100000+i),
		})
	}
	g := startGateway(t, port, config(-1))
	token := guestToken(t, g)
	clientTransport := &http.Transport{MaxIdleConnsPerHost: 100}
	defer clientTransport.CloseIdleConnections()
	baseGoroutines := settleGoroutines(0)
	baseSockets := openSockets(t)

	// 50 streams that outlive several reloads.
	var streamsOK, streamErrors atomic.Int64
	var firstStreamErr atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readStream(clientTransport, g.base, token, words); err != nil {
				streamErrors.Add(1)
				firstStreamErr.CompareAndSwap(nil, err.Error())
				return
			}
			streamsOK.Add(1)
		}()
	}

	// A steady load of plain requests.
	var requests, failures, retried atomic.Int64
	var firstFailure atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second, Transport: clientTransport}
			for ctx.Err() == nil {
				status, err := postRetryingConnErrors(client, g.base+"/v1/chat/completions", token,
					`{"model":"stream-model","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}`, &retried)
				requests.Add(1)
				if err != nil || status != http.StatusOK {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, %v", status, err))
				}
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 10; i++ {
		loadConfig(t, config(i))
		// The new config serves at once (on a new connection, retried
		// as the SDKs do: see getOnNewConnection).
		models := getOnNewConnection(t, g.base+"/v1/models", token)
		if !strings.Contains(models, fmt.Sprintf(`"extra-%d"`, i)) || (i >= 5) != strings.Contains(models, `"second-provider"`) {
			t.Fatalf("after reload %d the models are %s", i, models)
		}
		time.Sleep(150 * time.Millisecond)
	}
	stop()
	wg.Wait()

	if n := streamErrors.Load(); n > 0 {
		t.Fatalf("%d of 50 streams failed; first: %v", n, firstStreamErr.Load())
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed; first: %v", n, requests.Load(), firstFailure.Load())
	}
	t.Logf("50 streams and %d requests over 10 reloads (%d connection errors retried)", requests.Load(), retried.Load())

	// Back to idle: the clients hang up, and one more reload changes the
	// provider, so the old one and its upstream connections are closed.
	clientTransport.CloseIdleConnections()
	loadConfig(t, config(10))

	after := settleGoroutines(baseGoroutines + 10)
	if after > baseGoroutines+10 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before, %d after\n%s", baseGoroutines, after, buf[:n])
	}
	sockets := waitFor(t, 10*time.Second, func() (int, bool) {
		n := openSockets(t)
		return n, n <= baseSockets+10
	})
	t.Logf("goroutines %d → %d, sockets %d → %d", baseGoroutines, after, baseSockets, sockets)
}

// readStream reads one streamed chat answer and checks it has every word and
// ends with [DONE].
func readStream(rt http.RoundTripper, base, token string, words int) error {
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"stream-model","stream":true,"messages":[{"role":"user","content":"a long story"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 60 * time.Second, Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	content, done := 0, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "data: [DONE]":
			done = true
		case strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`):
			content++
		case strings.Contains(line, `"error"`):
			return fmt.Errorf("error event: %s", line)
		}
	}
	if !done || content != words {
		return fmt.Errorf("stream ended after %d of %d words (done=%v, err=%v)", content, words, done, sc.Err())
	}
	return nil
}

// postRetryingConnErrors is getRetryingConnErrors for a POST: a request that
// got no response at all never reached a handler (see there), so sending it
// again is safe.
func postRetryingConnErrors(client *http.Client, url, token, body string, retried *atomic.Int64) (int, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		lastErr = err
		retried.Add(1)
		// The OpenAI SDKs retry connection errors twice, after 0.5 s and
		// 1 s: a request caught by a reload's shutdown is sent again once
		// the new server took over, not three times within it.
		time.Sleep(time.Duration(500<<attempt) * time.Millisecond)
	}
	return 0, lastErr
}

// getOnNewConnection GETs url with token on a connection of its own and
// returns the body of a 200. A connection error is retried after 0.5 s and
// 1 s, as the OpenAI SDKs do: Caddy's listeners of two configs share the
// port with SO_REUSEPORT, and Linux resets the connections still waiting
// in the accept queue of the listener a reload closes (a kernel behaviour
// of SO_REUSEPORT, not a request the gateway dropped mid-way).
func getOnNewConnection(t *testing.T, url, token string) string {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var resp *http.Response
	var err error
	for attempt := range 3 {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err = client.Do(req); err == nil {
			break
		}
		time.Sleep(time.Duration(500<<attempt) * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	return string(body)
}

// openSockets counts this process's open sockets.
func openSockets(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("listing file descriptors: %v", err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}
