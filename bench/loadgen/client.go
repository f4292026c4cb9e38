// Package loadgen is the benchmark's load generator: closed-loop workers at
// a fixed concurrency sending plain or streamed chat completions, latency
// percentiles over all samples, and an SSE reader that timestamps every
// event to measure time to first token and the gaps between chunks.
package loadgen

import (
	"net"
	"net/http"
	"time"
)

// NewClient returns an HTTP/1.1 client that keeps up to maxConns
// connections to each host open, so that a run at concurrency maxConns
// never waits for a connection nor dials one once warm. It has no overall
// timeout: streams last as long as they last.
func NewClient(maxConns int) *http.Client {
	tr := &http.Transport{
		Proxy: nil, // loopback only; never an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxConnsPerHost:       maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxIdleConns:          0, // no bound across hosts
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true, // measure the bytes as sent
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{Transport: tr}
}
