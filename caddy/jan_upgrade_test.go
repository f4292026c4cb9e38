package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"
)

// Jan's POST /llm/auth/upgrade through a real Caddy on PostgreSQL: a guest
// who signs in with an OIDC account keeps its conversations (read with the
// OpenAI SDK as the signed-in user and with that user's new API key), its
// projects and its settings; its refresh token stops working; a second call
// moves nothing and answers the same; a second guest upgrading into the
// same account, which now has a project of the same name, gets its project
// renamed rather than refused.
func TestJanGuestUpgrade(t *testing.T) {
	e := startAuthGateway(t, authOptions{Routes: "llm_api"})
	guest := e.guestLogin(t)
	gh := bearerHeader(guest.Access)
	ctx := t.Context()

	guestClient := sdkClient(e.gateway, guest.Access)
	conv, err := guestClient.Conversations.New(ctx, conversations.ConversationNewParams{
		Items: []responses.ResponseInputItemUnionParam{
			responses.ResponseInputItemParamOfMessage("Remember the blue door.", responses.EasyInputMessageRoleUser),
		},
		Metadata: map[string]string{"from": "guest"},
	})
	if err != nil {
		t.Fatalf("guest creates a conversation: %v", err)
	}
	if r := e.do("POST", "/v1/projects", map[string]any{"name": "Work"}, gh...); r.Status != http.StatusCreated {
		t.Fatalf("guest creates a project: %d %s", r.Status, r.Body)
	}
	if r := e.do("PATCH", "/v1/users/me/settings", map[string]any{"profile_settings": map[string]any{"nick_name": "Door"}}, gh...); r.Status != http.StatusOK {
		t.Fatalf("guest settings: %d %s", r.Status, r.Body)
	}

	oidc := e.oidc.token("alice")
	r := e.do("POST", "/llm/auth/upgrade", map[string]any{"oidc_token": oidc}, gh...)
	if r.Status != http.StatusOK {
		t.Fatalf("upgrade: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	moved, _ := m["moved"].(map[string]any)
	if m["status"] != "upgraded" || m["guest_id"] != guest.UserID || moved["conversations"] != 1.0 || moved["projects"] != 1.0 || moved["settings"] != true {
		t.Fatalf("upgrade answer: %s", r.Body)
	}
	userID, _ := m["user_id"].(string)
	if me := e.do("GET", "/llm/auth/me", nil, bearerHeader(oidc)...).JSON(t); me["id"] != userID || me["kind"] != "user" {
		t.Fatalf("the OIDC token is not the user the upgrade named: %v vs %s", me, userID)
	}

	// The signed-in user has the guest's data, and may create API keys.
	userClient := sdkClient(e.gateway, oidc)
	got, err := userClient.Conversations.Get(ctx, conv.ID)
	if md, _ := got.Metadata.(map[string]any); err != nil || md["from"] != "guest" {
		t.Fatalf("the user reads the guest's conversation: %+v, %v", got, err)
	}
	// The SDK's conversations.retrieve reads the conversation "with its
	// items" (the spec) unchanged; the items are there for Jan's clients.
	var withItems struct {
		Items []struct {
			ID      string `json:"id"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"items"`
		FirstID string `json:"first_id"`
		HasMore bool   `json:"has_more"`
	}
	if err := json.Unmarshal([]byte(got.RawJSON()), &withItems); err != nil || len(withItems.Items) != 1 ||
		withItems.Items[0].Content[0].Text != "Remember the blue door." || withItems.FirstID != withItems.Items[0].ID || withItems.HasMore {
		t.Fatalf("conversation with its items: %s (%v)", got.RawJSON(), err)
	}
	key, _ := e.createAPIKey(t, oidc, map[string]any{"name": "after upgrade"})["key"].(string)
	keyClient := sdkClient(e.gateway, key)
	page, err := keyClient.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("the user's API key lists the guest's items: %v, %v", page, err)
	}
	if r := e.do("GET", "/v1/projects", nil, bearerHeader(oidc)...); len(r.JSON(t)["data"].([]any)) != 1 {
		t.Fatalf("the user's projects: %s", r.Body)
	}
	if r := e.do("GET", "/v1/users/me/settings", nil, bearerHeader(oidc)...); r.JSON(t)["profile_settings"].(map[string]any)["nick_name"] != "Door" {
		t.Fatalf("the user's settings: %s", r.Body)
	}
	// The guest's session is over: its refresh token is revoked, and its
	// access token (still valid until it expires) owns nothing any more.
	if r := e.do("POST", "/llm/auth/refresh-token", map[string]any{"refresh_token": guest.Refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("the guest's refresh token still works: %d %s", r.Status, r.Body)
	}
	if r := e.do("GET", "/v1/conversations/"+conv.ID, nil, gh...); r.Status != http.StatusNotFound {
		t.Fatalf("the guest still reads the conversation: %d", r.Status)
	}
	// Again: nothing left to move, same user.
	r = e.do("POST", "/llm/auth/upgrade", map[string]any{"oidc_token": oidc}, gh...)
	if again := r.JSON(t); r.Status != http.StatusOK || again["user_id"] != userID || again["moved"].(map[string]any)["conversations"] != 0.0 {
		t.Fatalf("second upgrade: %d %s", r.Status, r.Body)
	}
	// A signed-in user cannot upgrade.
	wantError(t, e.do("POST", "/llm/auth/upgrade", map[string]any{"oidc_token": oidc}, bearerHeader(oidc)...), http.StatusConflict, "not_a_guest")

	// A second guest into the same account: its "work" project is renamed.
	second := e.guestLogin(t)
	if r := e.do("POST", "/v1/projects", map[string]any{"name": "work"}, bearerHeader(second.Access)...); r.Status != http.StatusCreated {
		t.Fatalf("second guest's project: %d %s", r.Status, r.Body)
	}
	r = e.do("POST", "/llm/auth/upgrade", map[string]any{"oidc_token": e.oidc.token("alice")}, bearerHeader(second.Access)...)
	if r.Status != http.StatusOK || r.JSON(t)["moved"].(map[string]any)["renamed_projects"] != 1.0 {
		t.Fatalf("second guest's upgrade: %d %s", r.Status, r.Body)
	}
	var names []string
	for _, p := range e.do("GET", "/v1/projects", nil, bearerHeader(oidc)...).JSON(t)["data"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	if len(names) != 2 || (names[0] != "work (guest)" && names[1] != "work (guest)") {
		t.Fatalf("projects after two upgrades: %v", names)
	}
}
