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
//     operators' GET /v1/admin/usage, in the shape of OpenAI's usage API.
//   - Quota is a chat.Quota: token rate limits per tier
//     (handlers/ratelimit.TokenLimiter) checked before the upstream call and
//     settled to the real usage after it.
package usage
