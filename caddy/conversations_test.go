package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"

	"github.com/caddy-llm/gateway/store/storetest"
)

// Conversations, items, projects and settings through a real Caddy on
// PostgreSQL: the OpenAI SDK's conversations client works unchanged, the
// /llm/v1 aliases reach the same data, and one user never sees another's.
func TestConversationsProjectsSettingsOnPostgres(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		LLM:    "database_url " + dsn,
		Routes: "llm_auth",
	}))
	alice, bob := guestToken(t, g), guestToken(t, g)
	asAlice := []string{"Authorization", "Bearer " + alice}
	asBob := []string{"Authorization", "Bearer " + bob}
	ctx := context.Background()

	// The SDK: create with items, retrieve, update, items, delete.
	client := sdkClient(g, alice)
	conv, err := client.Conversations.New(ctx, conversations.ConversationNewParams{
		Items: []responses.ResponseInputItemUnionParam{
			responses.ResponseInputItemParamOfMessage("Hello!", responses.EasyInputMessageRoleUser),
		},
		Metadata: map[string]string{"topic": "greetings"},
	})
	if err != nil {
		t.Fatalf("creating a conversation with the SDK: %v", err)
	}
	got, err := client.Conversations.Get(ctx, conv.ID)
	if md, _ := got.Metadata.(map[string]any); err != nil || got.ID != conv.ID || md["topic"] != "greetings" {
		t.Fatalf("retrieving: %+v, %v", got, err)
	}
	if _, err := client.Conversations.Update(ctx, conv.ID, conversations.ConversationUpdateParams{
		Metadata: map[string]string{"topic": "updated"},
	}); err != nil {
		t.Fatalf("updating: %v", err)
	}
	items, err := client.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{})
	if err != nil || len(items.Data) != 1 || items.Data[0].AsMessage().Content[0].Text != "Hello!" {
		t.Fatalf("listing items: %+v, %v", items, err)
	}

	// The same data under the spec's alias path, and the title it accepts.
	r := g.do("POST", "/llm/v1/conversations/"+conv.ID, map[string]any{"title": "My Conversation"}, asAlice...)
	if r.Status != http.StatusOK || r.JSON(t)["title"] != "My Conversation" {
		t.Fatalf("updating the title = %d %s", r.Status, r.Body)
	}

	// Bob sees nothing of Alice's: 404, never 403.
	for _, path := range []string{"/v1/conversations/" + conv.ID, "/v1/conversations/" + conv.ID + "/items"} {
		wantError(t, g.do("GET", path, nil, asBob...), http.StatusNotFound, "")
	}
	if list := g.do("GET", "/v1/conversations", nil, asBob...).JSON(t); list["total"] != float64(0) {
		t.Fatalf("bob's list: %v", list)
	}

	// Projects: create, duplicate name, list with cursor, soft delete.
	r = g.do("POST", "/v1/projects", map[string]any{"name": "Marketing Campaign", "instruction": "You are a marketing expert."}, asAlice...)
	if r.Status != http.StatusCreated {
		t.Fatalf("creating a project = %d %s", r.Status, r.Body)
	}
	projID, _ := r.JSON(t)["id"].(string)
	wantError(t, g.do("POST", "/v1/projects", map[string]any{"name": "marketing campaign"}, asAlice...), http.StatusConflict, "")
	if r := g.do("POST", "/v1/projects", map[string]any{"name": "Marketing Campaign"}, asBob...); r.Status != http.StatusCreated {
		t.Fatalf("another user's project of the same name = %d %s", r.Status, r.Body)
	}
	wantError(t, g.do("GET", "/v1/projects/"+projID, nil, asBob...), http.StatusNotFound, "")
	if r := g.do("DELETE", "/v1/projects/"+projID, nil, asAlice...); r.Status != http.StatusOK {
		t.Fatalf("deleting the project = %d %s", r.Status, r.Body)
	}
	wantError(t, g.do("GET", "/v1/projects/"+projID, nil, asAlice...), http.StatusNotFound, "")

	// Settings: defaults, partial update with the nickname alias, range check.
	if s := g.do("GET", "/v1/users/me/settings", nil, asAlice...).JSON(t); fmt.Sprint(s["memory_config"].(map[string]any)["min_similarity"]) != "0.75" {
		t.Fatalf("default settings: %v", s)
	}
	r = g.do("PATCH", "/v1/users/me/settings", map[string]any{"profile_settings": map[string]any{"nickname": "Dev", "base_style": "Professional"}}, asAlice...)
	if p := r.JSON(t)["profile_settings"].(map[string]any); r.Status != http.StatusOK || p["nick_name"] != "Dev" || p["base_style"] != "Professional" {
		t.Fatalf("patching settings = %d %s", r.Status, r.Body)
	}
	wantError(t, g.do("PATCH", "/v1/users/me/settings", map[string]any{"memory_config": map[string]any{"max_user_items": 21}}, asAlice...), http.StatusBadRequest, "")

	// Deleting the conversation deletes its items.
	if _, err := client.Conversations.Delete(ctx, conv.ID); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	_, err = client.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{})
	wantSDKError(t, err, http.StatusNotFound, "")
}
