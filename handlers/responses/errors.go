package responses

import (
	"strconv"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// The validation errors of a request are chat completions' (openai.ErrType
// and its kin), with the two that only the Responses API's validation
// needs.

func errUnknown(param string) *apierr.Error {
	return apierr.Invalid(param, "unknown_parameter", "unknown parameter: "+param)
}

func errUnsupported(param, message string) *apierr.Error {
	return apierr.Invalid(param, "unsupported_value", param+" "+message)
}

func indexParam(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}
