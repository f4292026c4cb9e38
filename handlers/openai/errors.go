package openai

import (
	"fmt"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Error codes of request validation, as clients see them in error.code.
const (
	CodeInvalidJSON       = "invalid_json"
	CodeMissingParameter  = "missing_required_parameter"
	CodeInvalidType       = "invalid_type"
	CodeInvalidValue      = "invalid_value"
	CodeInvalidModel      = "invalid_model"
	CodeRequestTooLarge   = "request_too_large"
	CodeDuplicateProperty = "duplicate_property"
	CodeInvalidParameter  = "invalid_parameter"
)

// The validation errors of a request, naming the parameter at fault; the
// Responses API's validation (handlers/responses) uses them too, so that
// both answer a bad field alike.

// ErrInvalidJSON is the error for a body that is not the JSON expected.
func ErrInvalidJSON(message string) *apierr.Error {
	return apierr.New(400, CodeInvalidJSON, message)
}

// ErrMissing is the error for a required parameter that is absent.
func ErrMissing(param string) *apierr.Error {
	return apierr.Invalid(param, CodeMissingParameter, fmt.Sprintf("missing required parameter: %s", param))
}

// ErrType is the error for a parameter of the wrong JSON type; want
// says what it must be ("a string").
func ErrType(param, want string) *apierr.Error {
	return apierr.Invalid(param, CodeInvalidType, fmt.Sprintf("%s must be %s", param, want))
}

// ErrValue is the error for a parameter whose value is refused; message
// follows the parameter's name.
func ErrValue(param, message string) *apierr.Error {
	return apierr.Invalid(param, CodeInvalidValue, param+" "+message)
}

// ErrDuplicate is the error for a member given twice.
func ErrDuplicate(param string) *apierr.Error {
	// A duplicated property would be read one way here (first wins) and
	// another way upstream (last wins): refuse it rather than forward a
	// request that was not what we validated.
	return apierr.Invalid(param, CodeDuplicateProperty, fmt.Sprintf("%s is given more than once", param))
}

// ErrUnknownModel is the error for a model id the gateway does not serve.
func ErrUnknownModel(model string) *apierr.Error {
	const maxShown = 128
	if len(model) > maxShown {
		model = model[:maxShown] + "…"
	}
	return apierr.Invalid("model", CodeInvalidModel, fmt.Sprintf("the model %q does not exist or is not available", model))
}

// ErrOutputLimit is the error for a max_tokens above the model's maximum.
func ErrOutputLimit(param string, max int) *apierr.Error {
	return apierr.Invalid(param, CodeInvalidValue, fmt.Sprintf("%s must be between 1 and %d for this model", param, max))
}

// ErrNoVision is the error for an image_url part sent to a model whose
// catalog says it does not take images.
func ErrNoVision(param, model string) *apierr.Error {
	return apierr.Invalid(param, CodeInvalidValue, fmt.Sprintf("the model %q does not accept images (its catalog says vision: false); remove the image_url parts or choose a vision model", model))
}
