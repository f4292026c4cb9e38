package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
)

// DefaultMaxBodyBytes bounds request bodies when a handler is given no limit.
const DefaultMaxBodyBytes = 1 << 20

// initialBodyBuffer is the most ReadBody reserves before bytes arrive. The
// buffer grows (doubling) as the body is read, so memory follows what a
// client sent, not what its Content-Length claims: 200 slow sockets that
// announced 10 MB and sent 11 bytes once made the gateway reserve 2 GB.
const initialBodyBuffer = 16 << 10

// ReadBody reads the whole request body, at most maxBytes of it (a
// non-positive maxBytes means DefaultMaxBodyBytes). A larger body is a 413
// with code "request_too_large"; one announced larger by Content-Length is
// refused before any of it is read. Memory is reserved as bytes arrive.
func ReadBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, *apierr.Error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if r.Body == nil { // a client's request, or a test's
		return nil, nil
	}
	if r.ContentLength > maxBytes {
		return nil, apierr.RequestTooLarge(maxBytes)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, initialBodyBuffer)))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBytes)); err != nil {
		if limit, ok := apierr.BodyLimit(err); ok {
			return nil, apierr.RequestTooLarge(limit)
		}
		return nil, apierr.New(http.StatusBadRequest, "invalid_body", "reading the request body failed")
	}
	return buf.Bytes(), nil
}

// DecodeJSON reads the request body (see ReadBody) and decodes it into dst
// (see Unmarshal),
// which should point to a struct or map. An empty body leaves dst as it is,
// so handlers treat it like "{}" and their own validation names any missing
// field. Malformed JSON and a body that is not an object are 400
// "invalid_json"; a value of the wrong type is 400 "invalid_type" naming the
// field.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) *apierr.Error {
	body, aerr := ReadBody(w, r, maxBytes)
	if aerr != nil {
		return aerr
	}
	return Unmarshal(body, dst)
}

// Unmarshal decodes a request body already read, with DecodeJSON's rules.
// The routes that use it store what they decode, so before decoding it
// refuses a body nesting deeper than jsonguard.MaxDepth (400 invalid_json)
// and one with a NUL character in a string (400 invalid_value naming the
// member), which PostgreSQL cannot store.
func Unmarshal(body []byte, dst any) *apierr.Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if aerr := jsonguard.CheckStored(body); aerr != nil {
		return aerr
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return JSONError(err)
	}
	return nil
}

// JSONError turns an error of encoding/json into the API error for a bad
// request body.
func JSONError(err error) *apierr.Error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		return apierr.Invalid(te.Field, "invalid_type",
			"invalid type for '"+te.Field+"': expected "+jsonTypeName(te.Type.Kind().String())+", got "+te.Value)
	}
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return apierr.New(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
	}
	return apierr.New(http.StatusBadRequest, "invalid_json", "the request body is not valid JSON")
}

// jsonTypeName names a Go kind as the JSON type a client must send.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return kind
}
