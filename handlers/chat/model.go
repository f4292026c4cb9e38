package chat

import (
	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// CheckModel refuses a request that model cannot answer, as chat
// completions and the Responses API both refuse it: more output tokens
// than the model gives (maxTokensParam names the client's field), or an
// image for a model known to have no vision. imageParam returns the path
// of the request's first image; it is called only for such a model, so
// that other requests are not searched for one.
func CheckModel(model *provider.Model, maxTokens int, maxTokensParam string, imageParam func() (string, bool)) *apierr.Error {
	if model.MaxOutputTokens > 0 && maxTokens > model.MaxOutputTokens {
		return openai.ErrOutputLimit(maxTokensParam, model.MaxOutputTokens)
	}
	if !model.Capabilities.Vision && model.Capabilities.VisionKnown {
		if param, ok := imageParam(); ok {
			return openai.ErrNoVision(param, model.ID)
		}
	}
	return nil
}
