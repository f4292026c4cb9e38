package provider

import (
	"context"
	"errors"
	"io"
	"time"

	"go.uber.org/zap"
)

// Attempt describes how a request was served: by which deployment, after
// how many tries.
type Attempt struct {
	// Provider is the id of the provider of the last deployment tried.
	Provider string
	// UpstreamModel is that deployment's name for the model.
	UpstreamModel string
	// Tries is the number of deployments tried.
	Tries int
	// Latency is the time the last deployment took to send its first chunk
	// (streams) or its whole answer.
	Latency time.Duration
}

// ChatCompletion sends a request without stream to the model's deployments
// in routing order, moving to the next on a retryable failure. On failure
// the error is an *Error.
func (r *Router) ChatCompletion(ctx context.Context, req *Request) (*Completion, Attempt, error) {
	var (
		buf     [maxInlineDeployments]*deployment
		att     Attempt
		outcome failover
	)
	for _, d := range req.Model.order(time.Now().UnixNano(), &buf) {
		att = Attempt{Provider: d.providerID, UpstreamModel: d.upstream, Tries: att.Tries + 1}
		req.UpstreamModel = d.upstream
		start := time.Now()
		c, err := d.provider.ChatCompletion(ctx, req)
		att.Latency = time.Since(start)
		if err == nil {
			d.health.succeeded()
			return c, att, nil
		}
		if stop := r.failed(ctx, d, req, &outcome, err); stop {
			break
		}
	}
	return nil, att, outcome.result()
}

// ChatCompletionStream starts a streamed answer from the model's deployments
// in routing order. A deployment counts as answering once it delivered its
// first chunk: a failure before that (refused connection, 429, 5xx, a stream
// that breaks before its first event) moves to the next deployment, so
// the client sees nothing of it. On failure the error is an *Error.
func (r *Router) ChatCompletionStream(ctx context.Context, req *Request) (Stream, Attempt, error) {
	var (
		buf     [maxInlineDeployments]*deployment
		att     Attempt
		outcome failover
	)
	for _, d := range req.Model.order(time.Now().UnixNano(), &buf) {
		att = Attempt{Provider: d.providerID, UpstreamModel: d.upstream, Tries: att.Tries + 1}
		req.UpstreamModel = d.upstream
		start := time.Now()
		s, err := d.provider.ChatCompletionStream(ctx, req)
		if err == nil {
			first, ferr := s.Next()
			if ferr == nil || errors.Is(ferr, io.EOF) {
				att.Latency = time.Since(start)
				d.health.succeeded()
				return &peekedStream{Stream: s, first: first, firstErr: ferr, peeked: true, router: r, d: d}, att, nil
			}
			_ = s.Close()
			err = ferr
		}
		att.Latency = time.Since(start)
		if stop := r.failed(ctx, d, req, &outcome, err); stop {
			break
		}
	}
	return nil, att, outcome.result()
}

// failed records a failed attempt and reports whether to stop trying.
func (r *Router) failed(ctx context.Context, d *deployment, req *Request, outcome *failover, err error) bool {
	perr := AsError(ctx, err)
	outcome.add(perr)
	if perr.Kind == KindCanceled {
		return true
	}
	if perr.countsAsFailure() {
		d.health.failed(perr, &r.policy, time.Now())
	}
	if ce := r.logger.Check(zap.DebugLevel, "upstream attempt failed"); ce != nil {
		ce.Write(zap.String("provider", d.providerID), zap.String("model", req.Model.ID),
			zap.String("kind", perr.Kind.String()), zap.Int("status", perr.Status), zap.Error(perr.Err))
	}
	return !perr.Retryable()
}

// failover accumulates the failures of one request's attempts.
type failover struct {
	last       *Error
	lastOther  *Error // the last failure that was not a 429
	all429     bool
	retryAfter time.Duration
	n          int
}

func (f *failover) add(e *Error) {
	f.n++
	f.last = e
	if f.n == 1 {
		f.all429 = true
	}
	if e.Kind == KindRateLimited {
		if e.RetryAfter > 0 && (f.retryAfter == 0 || e.RetryAfter < f.retryAfter) {
			f.retryAfter = e.RetryAfter
		}
		return
	}
	f.all429 = false
	f.lastOther = e
}

// result is the error clients see: 429 (with the shortest Retry-After) when
// every deployment was rate limited, else the last other failure.
func (f *failover) result() error {
	switch {
	case f.n == 0:
		return &Error{Kind: KindServer, Message: "the model has no deployment", Err: errors.New("no deployment")}
	case f.last.Kind == KindCanceled || !f.last.Retryable():
		return f.last
	case f.all429:
		return &Error{Kind: KindRateLimited, Status: f.last.Status, RetryAfter: f.retryAfter, Err: f.last.Err}
	case f.lastOther != nil:
		return f.lastOther
	}
	return f.last
}

// peekedStream replays the first chunk the router read to decide that the
// deployment answered, and reports later failures to the deployment's
// health.
type peekedStream struct {
	Stream
	first    Chunk
	firstErr error
	peeked   bool
	router   *Router
	d        *deployment
}

// Ready reports whether Next returns without waiting: the replayed first
// chunk, or what the deployment's stream says.
func (p *peekedStream) Ready() bool {
	if p.peeked {
		return true
	}
	rs, ok := p.Stream.(ReadyStream)
	return ok && rs.Ready()
}

func (p *peekedStream) Next() (Chunk, error) {
	if p.peeked {
		p.peeked = false
		return p.first, p.firstErr
	}
	c, err := p.Stream.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		if pe, ok := err.(*Error); ok && pe.countsAsFailure() {
			p.d.health.failed(pe, &p.router.policy, time.Now())
		}
	}
	return c, err
}
