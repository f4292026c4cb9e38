// Package models serves the model listings: GET /v1/models (OpenAI's and the
// spec's shape), GET /v1/models/{id} (OpenAI's retrieve), GET
// /v1/models/catalogs/{id} (a model's limits, capabilities and parameters)
// and GET /v1/models/providers (the configured providers, without any
// secret). Model ids may contain "/".
package models

import (
	"net/http"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// Handler serves the model listings of a router.
type Handler struct {
	// Router is the routing table listed. Required.
	Router *provider.Router
	// Visible, when set, says whether the caller may see a model (an API
	// key restricted to some models sees only those; the others are 404).
	Visible func(r *http.Request, model string) bool
}

func (h *Handler) visible(r *http.Request, model string) bool {
	return h.Visible == nil || h.Visible(r, model)
}

// Register adds the handler's routes to mux. Wrong methods are left to the
// mux's owner (handlers.API answers them with a JSON 405).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/models", h.list)
	mux.HandleFunc("GET /v1/models/providers", h.providers)
	mux.HandleFunc("GET /v1/models/catalogs/{id...}", h.catalog)
	mux.HandleFunc("GET /v1/models/{id...}", h.retrieve)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	if httpx.RequirePrincipal(w, r) == nil {
		return
	}
	models := h.Router.Models()
	list := openai.ModelList{Object: openai.ObjectList, Data: make([]openai.Model, 0, len(models))}
	for _, m := range models {
		if h.visible(r, m.ID) {
			list.Data = append(list.Data, modelObject(m))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, list)
}

func (h *Handler) retrieve(w http.ResponseWriter, r *http.Request) {
	if httpx.RequirePrincipal(w, r) == nil {
		return
	}
	m, ok := h.Router.Model(r.PathValue("id"))
	if !ok || !h.visible(r, m.ID) {
		apierr.Write(w, apierr.NotFound("model"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, modelObject(m))
}

func modelObject(m *provider.Model) openai.Model {
	return openai.Model{ID: m.ID, Object: openai.ObjectModel, Created: m.Created, OwnedBy: m.OwnedBy}
}

// Catalog is a model's catalog entry. Its field names follow Jan's catalog
// (public_id, supported_parameters.names, supports_*), with the limits and
// capabilities the specification asks for.
type Catalog struct {
	ID                  string                `json:"id"`
	PublicID            string                `json:"public_id"`
	Object              string                `json:"object"`
	ModelDisplayName    string                `json:"model_display_name"`
	OwnedBy             string                `json:"owned_by"`
	Created             int64                 `json:"created"`
	ContextLength       *int                  `json:"context_length"`
	MaxOutputTokens     *int                  `json:"max_output_tokens"`
	Capabilities        provider.Capabilities `json:"capabilities"`
	SupportedParameters SupportedParameters   `json:"supported_parameters"`
	Architecture        Architecture          `json:"architecture"`
	SupportsStreaming   bool                  `json:"supports_streaming"`
	SupportsTools       bool                  `json:"supports_tools"`
	SupportsImages      bool                  `json:"supports_images"`
	Active              bool                  `json:"active"`
}

// SupportedParameters lists the request parameters a model honours.
type SupportedParameters struct {
	Names []string `json:"names"`
}

// Architecture describes a model's modalities.
type Architecture struct {
	Modality         string   `json:"modality"`
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) {
	if httpx.RequirePrincipal(w, r) == nil {
		return
	}
	m, ok := h.Router.Model(r.PathValue("id"))
	if !ok {
		apierr.Write(w, apierr.NotFound("model"))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, catalogOf(m))
}

func catalogOf(m *provider.Model) Catalog {
	c := Catalog{
		ID:                  m.ID,
		PublicID:            m.ID,
		Object:              "model.catalog",
		ModelDisplayName:    m.DisplayName,
		OwnedBy:             m.OwnedBy,
		Created:             m.Created,
		ContextLength:       positive(m.ContextLength),
		MaxOutputTokens:     positive(m.MaxOutputTokens),
		Capabilities:        m.Capabilities,
		SupportedParameters: SupportedParameters{Names: m.SupportedParameters},
		SupportsStreaming:   m.Capabilities.Streaming,
		SupportsTools:       m.Capabilities.Tools,
		SupportsImages:      m.Capabilities.Vision,
		Active:              true,
		Architecture: Architecture{
			Modality:         "text->text",
			InputModalities:  []string{"text"},
			OutputModalities: []string{"text"},
		},
	}
	if m.Capabilities.Vision {
		c.Architecture.Modality = "text+image->text"
		c.Architecture.InputModalities = []string{"text", "image"}
	}
	return c
}

// positive returns a pointer to n, or nil (JSON null: unknown) when n is 0.
func positive(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

// ProviderEntry is one provider of /v1/models/providers. It never carries a
// key, a header or a base URL: those may be secret.
type ProviderEntry struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Vendor     string `json:"vendor"` // Jan's name for kind
	ModelCount int    `json:"model_count"`
	Active     bool   `json:"active"`
}

// ProviderList is the response of /v1/models/providers.
type ProviderList struct {
	Object string          `json:"object"`
	Data   []ProviderEntry `json:"data"`
}

func (h *Handler) providers(w http.ResponseWriter, r *http.Request) {
	if httpx.RequirePrincipal(w, r) == nil {
		return
	}
	statuses := h.Router.Providers()
	list := ProviderList{Object: openai.ObjectList, Data: make([]ProviderEntry, len(statuses))}
	for i, s := range statuses {
		list.Data[i] = ProviderEntry{
			ID:         s.Info.ID,
			Object:     "provider",
			Name:       s.Info.Name,
			Kind:       s.Info.Kind,
			Vendor:     s.Info.Kind,
			ModelCount: s.Models,
			Active:     s.Models > 0,
		}
	}
	httpx.WriteJSON(w, http.StatusOK, list)
}
