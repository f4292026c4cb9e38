package loadgen

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample", []time.Duration{7}, 99, 7},
		{"median of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"a tiny p is the minimum", hundred, 0.001, time.Millisecond},
		{"median of an even count is the lower middle", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p99 of few samples is the maximum", []time.Duration{1, 2, 3}, 99, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("Percentile(%d samples, %v) = %v, want %v", len(tc.samples), tc.p, got, tc.want)
			}
		})
	}
}

func TestSortDurations(t *testing.T) {
	got := sortDurations([]time.Duration{3, 1, 2})
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("sorted = %v", got)
	}
}
