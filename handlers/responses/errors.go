package responses

import (
	"fmt"
	"strconv"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// The validation errors of a request, in the shape and with the codes of
// the chat completions validation (handlers/openai), naming the parameter
// at fault.

func errInvalidJSON(message string) *apierr.Error {
	return apierr.New(400, openai.CodeInvalidJSON, message)
}

func errMissing(param string) *apierr.Error {
	return apierr.Invalid(param, openai.CodeMissingParameter, "missing required parameter: "+param)
}

func errType(param, want string) *apierr.Error {
	return apierr.Invalid(param, openai.CodeInvalidType, fmt.Sprintf("%s must be %s", param, want))
}

func errValue(param, message string) *apierr.Error {
	return apierr.Invalid(param, openai.CodeInvalidValue, param+" "+message)
}

func errDuplicate(param string) *apierr.Error {
	return apierr.Invalid(param, openai.CodeDuplicateProperty, param+" is given more than once")
}

func errUnknown(param string) *apierr.Error {
	return apierr.Invalid(param, "unknown_parameter", "unknown parameter: "+param)
}

func errUnsupported(param, message string) *apierr.Error {
	return apierr.Invalid(param, "unsupported_value", param+" "+message)
}

func indexParam(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}
