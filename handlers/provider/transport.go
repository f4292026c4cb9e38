package provider

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Default timeouts of HTTP providers.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultFirstByteTimeout = 120 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	// DefaultMaxIdleConnsPerHost keeps enough warm connections for many
	// concurrent streams to one upstream (Go's default of 2 would make most
	// requests dial).
	DefaultMaxIdleConnsPerHost = 512
)

// TransportConfig tunes the http.Transport of one provider.
type TransportConfig struct {
	// ConnectTimeout bounds dialing and the TLS handshake.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the upstream's response headers.
	FirstByteTimeout time.Duration
	// MaxIdleConnsPerHost is the number of idle connections kept per host.
	MaxIdleConnsPerHost int
	// TLSConfig is used for https upstreams; nil means Go's defaults.
	TLSConfig *tls.Config
}

// NewTransport returns a transport tuned for proxying to one upstream: HTTP/2
// when the upstream offers it, a large idle pool, bounded dialing, and no
// transparent compression (a gzip reader would hold back stream chunks).
func NewTransport(c TransportConfig) *http.Transport {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	dialer := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       c.TLSConfig,
		TLSHandshakeTimeout:   c.ConnectTimeout,
		ResponseHeaderTimeout: c.FirstByteTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          4 * c.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ReadBufferSize:        32 << 10,
		WriteBufferSize:       32 << 10,
	}
}

// Watchdog enforces the first-byte and idle timeouts of one upstream call
// with a single timer: it cancels the call's context with ErrFirstByteTimeout
// or ErrIdleTimeout as cause when the timer fires. Resetting it for each
// chunk costs a timer reset, not a goroutine.
type Watchdog struct {
	timer  *time.Timer
	cancel context.CancelCauseFunc
	idle   atomic.Bool
}

// NewWatchdog returns a context derived from parent that the watchdog
// cancels, armed with the first-byte timeout (0 disables it).
func NewWatchdog(parent context.Context, firstByte time.Duration) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &Watchdog{cancel: cancel}
	if firstByte > 0 {
		w.timer = time.AfterFunc(firstByte, w.fire)
	}
	return ctx, w
}

func (w *Watchdog) fire() {
	if w.idle.Load() {
		w.cancel(ErrIdleTimeout)
		return
	}
	w.cancel(ErrFirstByteTimeout)
}

// Kick records that the upstream sent something and re-arms the timer with
// the idle timeout (0 disables it).
func (w *Watchdog) Kick(idle time.Duration) {
	if !w.idle.Load() {
		w.idle.Store(true)
	}
	if idle <= 0 {
		if w.timer != nil {
			w.timer.Stop()
		}
		return
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(idle, w.fire)
		return
	}
	w.timer.Reset(idle)
}

// Stop disarms the timer and cancels the context, ending the upstream call
// if it still runs.
func (w *Watchdog) Stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel(context.Canceled)
}
