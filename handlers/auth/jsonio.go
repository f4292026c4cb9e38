package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
)

// maxBodySize caps the request bodies of the authentication API; none of
// them needs more than a few hundred bytes.
const maxBodySize = 64 << 10

// noStore marks a response that carries a secret as not cacheable
// (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// decodeOptionalJSON decodes the request body into v. An empty body leaves v
// as it is and reports false. A body nesting deeper than jsonguard.MaxDepth
// or holding a NUL character (API key names are stored) is a 400.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) (bool, *apierr.Error) {
	if r.Body == nil {
		return false, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodySize))
	if err != nil {
		if limit, ok := apierr.BodyLimit(err); ok {
			return false, apierr.RequestTooLarge(limit)
		}
		return false, apierr.Invalid("", "invalid_body", "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	if aerr := jsonguard.CheckStored(body); aerr != nil {
		return false, aerr
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, apierr.Invalid("", "invalid_json", "the request body is not valid JSON for this endpoint")
	}
	return true, nil
}
