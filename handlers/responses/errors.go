package responses

import (
	"strconv"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// The validation errors of a request are chat completions' (handlers/openai),
// with the two that only the Responses API's validation needs.
var (
	errInvalidJSON = openai.ErrInvalidJSON
	errMissing     = openai.ErrMissing
	errType        = openai.ErrType
	errValue       = openai.ErrValue
	errDuplicate   = openai.ErrDuplicate
)

func errUnknown(param string) *apierr.Error {
	return apierr.Invalid(param, "unknown_parameter", "unknown parameter: "+param)
}

func errUnsupported(param, message string) *apierr.Error {
	return apierr.Invalid(param, "unsupported_value", param+" "+message)
}

func indexParam(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}
