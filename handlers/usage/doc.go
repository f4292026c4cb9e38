// Package usage meters model requests and enforces what callers may spend.
//
//   - Recorder is a chat.Observer that turns every answered request into a
//     store.UsageRecord (tokens from the upstream's own usage, cost from the
//     model's prices) and hands it to the Writer, without waiting.
//   - Writer buffers records and writes them in batches, about once a
//     second, from one goroutine; during a database outage it keeps up to
//     its bound and drops (and counts) the rest. It also runs the records'
//     retention.
//   - Handler serves GET /v1/usage (the caller's own usage) and the
//     operators' GET /v1/admin/usage, in the shape of OpenAI's usage API,
//     and the limits API (operators on any user or key, users lowering
//     their own keys' limits).
//   - Quota is a chat.Quota: an API key's model scope, token rate limits
//     per tier and per key, and budgets per user and per key, in one
//     reservation (handlers/ratelimit.TokenLimiter) before the upstream
//     call, settled to the real usage after it. Any handler that calls a
//     model (the Responses API) admits and settles through it the same way,
//     and reports its outcome to the Recorder as a chat.Observer.
package usage
