package memory

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// Bounds of an embeddings request.
const (
	// DefaultEmbeddingsMaxBodyBytes bounds the request body.
	DefaultEmbeddingsMaxBodyBytes = 2 << 20
	// MaxEmbeddingInputs is the most texts one request embeds.
	MaxEmbeddingInputs = 256
	// MaxEmbeddingInputBytes is the longest text, in bytes (some 8k
	// tokens, the input limit of OpenAI's embedding models).
	MaxEmbeddingInputBytes = 32 << 10
	// MaxEmbeddingDimensions is the largest dimensions a request may ask
	// for.
	MaxEmbeddingDimensions = 8192
	// MaxEmbeddingValues bounds inputs × dimensions, the numbers one
	// answer holds (256 texts of 4,096 dimensions, 128 of 8,192): each
	// costs 4 bytes as a vector and up to 12 in the JSON answer, so the
	// two largest bounds together (2 million numbers, some 25 MB of JSON
	// per request) would let a few requests at once take gigabytes.
	MaxEmbeddingValues = 1 << 20
)

// EmbeddingsHandler serves POST /v1/embeddings in OpenAI's shape: input (a
// string or an array of strings; token arrays are refused with 400), model,
// encoding_format (float or base64), dimensions and user (ignored). It
// needs a principal, as chat does, and routes to the model's deployments
// whose providers embed (OpenAI-compatible ones and the mock).
type EmbeddingsHandler struct {
	// Router routes requests to model deployments. Required.
	Router *provider.Router
	// Logger receives upstream failures (never inputs nor keys); nil means
	// none.
	Logger *zap.Logger
	// MaxBodyBytes bounds a request body. Default
	// DefaultEmbeddingsMaxBodyBytes.
	MaxBodyBytes int64
	// Observer, when set, receives every request's outcome as chat's
	// does (metrics, access logs, usage): a request without stream whose
	// usage has prompt tokens only.
	Observer chat.Observer
	// Quota, when set, admits each request against token limits, budgets
	// and key scopes before it goes upstream (reserving the inputs'
	// estimated tokens, none for an answer), and settles it to the
	// upstream's count, as for chat completions. Nil admits everything.
	Quota chat.Quota
}

// Register adds the route to mux.
func (h *EmbeddingsHandler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/embeddings", h)
}

// embeddingsRequest is the body of POST /v1/embeddings.
type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

func (h *EmbeddingsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := &chat.Outcome{Start: time.Now()}
	if h.Observer != nil {
		defer func() {
			o.Duration = time.Since(o.Start)
			h.Observer.Done(r, o)
		}()
	}
	if httpx.RequirePrincipal(w, r) == nil {
		o.Status, o.ErrorCode = http.StatusUnauthorized, "unauthorized"
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultEmbeddingsMaxBodyBytes
	}
	body, aerr := httpx.ReadBody(w, r, limit)
	if aerr == nil {
		aerr = jsonguard.Check(body)
	}
	var req embeddingsRequest
	if aerr == nil {
		if len(bytes.TrimSpace(body)) == 0 {
			aerr = apierr.New(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
		} else if err := json.Unmarshal(body, &req); err != nil {
			aerr = httpx.JSONError(err)
		}
	}
	var inputs []string
	if aerr == nil {
		inputs, aerr = parseInputs(req.Input)
	}
	if aerr == nil {
		aerr = validateEmbeddingOptions(&req)
	}
	if aerr == nil && req.Dimensions != nil && len(inputs)*(*req.Dimensions) > MaxEmbeddingValues {
		aerr = apierr.Invalid("dimensions", "invalid_value", "inputs × dimensions can be at most "+
			strconv.Itoa(MaxEmbeddingValues)+": send fewer texts per request, or ask for fewer dimensions")
	}
	if aerr != nil {
		reject(w, o, aerr)
		return
	}
	model, ok := h.Router.Model(req.Model)
	if !ok {
		reject(w, o, openai.ErrUnknownModel(req.Model))
		return
	}
	o.Model = model.ID
	inputBytes := 0
	for _, in := range inputs {
		inputBytes += len(in)
	}
	settle, aerr := chat.AdmitRequest(h.Quota, w, r, o, chat.QuotaRequest{Model: model.ID, PromptTokens: chat.EstimatePromptTokens(inputBytes), NoOutput: true})
	if aerr != nil {
		reject(w, o, aerr)
		return
	}
	defer settle() // before the Observer's Done, which is deferred earlier
	ereq := &provider.EmbeddingRequest{
		Inputs:      inputs,
		Model:       model,
		TraceParent: r.Header.Get("Traceparent"),
		TraceState:  r.Header.Get("Tracestate"),
		RequestID:   r.Header.Get("X-Request-Id"),
	}
	if req.Dimensions != nil {
		ereq.Dimensions = *req.Dimensions
	}
	out, att, err := h.Router.Embeddings(r.Context(), ereq)
	o.Provider, o.UpstreamModel, o.Tries, o.UpstreamLatency = att.Provider, att.UpstreamModel, att.Tries, att.Latency
	if err != nil {
		h.upstreamFailed(w, r, o, err)
		return
	}
	o.Status = http.StatusOK
	o.Usage = openai.Usage{PromptTokens: out.PromptTokens, TotalTokens: out.PromptTokens}
	o.HasUsage = true
	o.TimeToFirstByte = time.Since(o.Start)
	if h.Observer != nil {
		h.Observer.FirstByte(r, o)
	}
	writeAnswer(w, model.ID, req.EncodingFormat, out)
}

// reject writes a request error.
func reject(w http.ResponseWriter, o *chat.Outcome, e *apierr.Error) {
	o.Status, o.ErrorCode = e.Status, e.Code
	apierr.Write(w, e)
}

// parseInputs reads input: a string, or an array of 1 to
// MaxEmbeddingInputs strings, none empty nor longer than
// MaxEmbeddingInputBytes.
func parseInputs(raw json.RawMessage) ([]string, *apierr.Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, apierr.Invalid("input", "missing_required_parameter", "input is required")
	}
	var inputs []string
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, apierr.Invalid("input", "invalid_type", "input must be a string or an array of strings")
		}
		inputs = []string{s}
	case '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(raw, &parts); err != nil {
			return nil, apierr.Invalid("input", "invalid_type", "input must be a string or an array of strings")
		}
		if len(parts) == 0 {
			return nil, apierr.Invalid("input", "invalid_value", "input must not be an empty array")
		}
		if len(parts) > MaxEmbeddingInputs {
			return nil, apierr.Invalid("input", "invalid_value", "input can hold at most "+strconv.Itoa(MaxEmbeddingInputs)+" texts")
		}
		inputs = make([]string, len(parts))
		for i, p := range parts {
			p = bytes.TrimSpace(p)
			if len(p) == 0 || p[0] != '"' {
				return nil, apierr.Invalid("input", "unsupported_input",
					"input must be text: token arrays are not supported by this gateway")
			}
			if err := json.Unmarshal(p, &inputs[i]); err != nil {
				return nil, apierr.Invalid("input", "invalid_type", "input must be a string or an array of strings")
			}
		}
	default:
		return nil, apierr.Invalid("input", "invalid_type", "input must be a string or an array of strings")
	}
	for i, s := range inputs {
		param := "input"
		if len(inputs) > 1 || raw[0] == '[' {
			param = "input[" + strconv.Itoa(i) + "]"
		}
		if len(bytes.TrimSpace([]byte(s))) == 0 {
			return nil, apierr.Invalid(param, "invalid_value", param+" must not be empty")
		}
		if len(s) > MaxEmbeddingInputBytes {
			return nil, apierr.Invalid(param, "invalid_value", param+" can be at most "+strconv.Itoa(MaxEmbeddingInputBytes)+" bytes long")
		}
	}
	return inputs, nil
}

// validateEmbeddingOptions checks model, encoding_format and dimensions.
func validateEmbeddingOptions(req *embeddingsRequest) *apierr.Error {
	if req.Model == "" {
		return apierr.Invalid("model", "missing_required_parameter", "model is required")
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return apierr.Invalid("encoding_format", "invalid_value", "encoding_format must be 'float' or 'base64'")
	}
	if d := req.Dimensions; d != nil && (*d < 1 || *d > MaxEmbeddingDimensions) {
		return apierr.Invalid("dimensions", "invalid_value", "dimensions must be an integer from 1 to "+strconv.Itoa(MaxEmbeddingDimensions))
	}
	return nil
}

// writeAnswer writes the provider's vectors as OpenAI's list object,
// encoded by hand into one buffer: through encoding/json each vector's
// bytes would be copied (and checked) once more.
func writeAnswer(w http.ResponseWriter, model, format string, out *provider.Embeddings) {
	size := 128 + len(model)
	for _, v := range out.Vectors {
		size += 64 + 12*len(v)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"object":"list","data":[`...)
	for i, v := range out.Vectors {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"object":"embedding","index":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"embedding":`...)
		if format == "base64" {
			buf = appendBase64Vector(buf, v)
		} else {
			buf = appendFloatVector(buf, v)
		}
		buf = append(buf, '}')
	}
	name, _ := json.Marshal(model) // a string cannot fail to encode
	buf = append(buf, `],"model":`...)
	buf = append(buf, name...)
	buf = append(buf, `,"usage":{"prompt_tokens":`...)
	buf = strconv.AppendInt(buf, int64(out.PromptTokens), 10)
	buf = append(buf, `,"total_tokens":`...)
	buf = strconv.AppendInt(buf, int64(out.PromptTokens), 10)
	buf = append(buf, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// appendFloatVector appends v as a JSON array of numbers, each written with
// the fewest digits that read back as the same float32.
func appendFloatVector(dst []byte, v []float32) []byte {
	dst = append(dst, '[')
	for i, x := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			x = 0
		}
		dst = strconv.AppendFloat(dst, float64(x), 'g', -1, 32)
	}
	return append(dst, ']')
}

// appendBase64Vector appends v as a JSON string: the base64 of its
// little-endian float32s, as OpenAI encodes encoding_format "base64".
func appendBase64Vector(dst []byte, v []float32) []byte {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, raw)
	return append(dst, '"')
}

// upstreamFailed writes the client's view of a failed embeddings call, as
// chat does: 400 for a model that cannot embed or a refused input, 429
// with Retry-After, 502, 504.
func (h *EmbeddingsHandler) upstreamFailed(w http.ResponseWriter, r *http.Request, o *chat.Outcome, err error) {
	perr := provider.AsError(r.Context(), err)
	e := perr.APIError()
	o.Status, o.ErrorCode = e.Status, e.Code
	if perr.Kind == provider.KindCanceled {
		return
	}
	if perr.Kind != provider.KindBadRequest && perr.Kind != provider.KindTooLarge && h.Logger != nil {
		h.Logger.Warn("upstream embeddings failed",
			zap.String("model", o.Model), zap.String("provider", o.Provider), zap.Int("tries", o.Tries),
			zap.String("kind", perr.Kind.String()), zap.Int("upstream_status", perr.Status), zap.Error(perr.Err))
	}
	if perr.Kind == provider.KindRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(perr.RetryAfterSeconds()))
	}
	apierr.Write(w, e)
}
