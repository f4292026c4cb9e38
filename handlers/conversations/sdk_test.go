package conversations

import (
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
)

// testOpenAISDK drives every route through the official OpenAI Go SDK,
// unchanged, as a client of the gateway would.
func testOpenAISDK(t *testing.T, s *httpxtest.Server) {
	ctx := t.Context()
	client := openai.NewClient(
		option.WithBaseURL(s.URL+"/v1/"),
		option.WithAPIKey(Alice),
		option.WithMaxRetries(0),
	)

	conv, err := client.Conversations.New(ctx, conversations.ConversationNewParams{
		Items: []responses.ResponseInputItemUnionParam{
			responses.ResponseInputItemParamOfMessage("You are terse.", responses.EasyInputMessageRoleSystem),
			responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
				responses.ResponseInputContentParamOfInputText("Hello!"),
			}, responses.EasyInputMessageRoleUser),
		},
		Metadata: shared.Metadata{"topic": "greeting"},
	})
	if err != nil {
		t.Fatalf("creating conversation: %v", err)
	}
	if conv.ID == "" || conv.CreatedAt == 0 || string(conv.Object) != "conversation" {
		t.Fatalf("created %+v", conv)
	}
	if md, _ := conv.Metadata.(map[string]any); md["topic"] != "greeting" {
		t.Fatalf("created metadata %v", conv.Metadata)
	}

	got, err := client.Conversations.Get(ctx, conv.ID)
	if err != nil || got.ID != conv.ID || got.CreatedAt != conv.CreatedAt {
		t.Fatalf("retrieving: %+v, %v", got, err)
	}

	updated, err := client.Conversations.Update(ctx, conv.ID, conversations.ConversationUpdateParams{
		Metadata: shared.Metadata{"topic": "smalltalk"},
	})
	if err != nil {
		t.Fatalf("updating: %v", err)
	}
	if md, _ := updated.Metadata.(map[string]any); md["topic"] != "smalltalk" {
		t.Fatalf("updated metadata %v", updated.Metadata)
	}

	added, err := client.Conversations.Items.New(ctx, conv.ID, conversations.ItemNewParams{
		Items: []responses.ResponseInputItemUnionParam{
			responses.ResponseInputItemParamOfMessage("Hi. What now?", responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("Nothing.", responses.EasyInputMessageRoleUser),
		},
	})
	if err != nil {
		t.Fatalf("adding items: %v", err)
	}
	if len(added.Data) != 2 || added.FirstID != added.Data[0].ID || added.LastID != added.Data[1].ID || added.HasMore {
		t.Fatalf("added %+v", added)
	}
	reply := added.Data[0].AsMessage()
	if reply.Role != "assistant" || reply.Status != "completed" || len(reply.Content) != 1 ||
		reply.Content[0].Type != "output_text" || reply.Content[0].AsOutputText().Text != "Hi. What now?" {
		t.Fatalf("added assistant item %+v", reply)
	}

	item, err := client.Conversations.Items.Get(ctx, conv.ID, reply.ID, conversations.ItemGetParams{})
	if err != nil {
		t.Fatalf("retrieving item: %v", err)
	}
	if m := item.AsMessage(); m.ID != reply.ID || m.Content[0].AsOutputText().Text != "Hi. What now?" {
		t.Fatalf("retrieved item %+v", m)
	}

	// Four items, listed oldest first two at a time by the SDK's auto-pager.
	var texts []string
	pager := client.Conversations.Items.ListAutoPaging(ctx, conv.ID, conversations.ItemListParams{
		Limit: openai.Int(2),
		Order: conversations.ItemListParamsOrderAsc,
	})
	for pager.Next() {
		m := pager.Current().AsMessage()
		texts = append(texts, string(m.Role)+":"+m.Content[0].Text)
	}
	if err := pager.Err(); err != nil {
		t.Fatalf("listing items: %v", err)
	}
	want := []string{"system:You are terse.", "user:Hello!", "assistant:Hi. What now?", "user:Nothing."}
	if len(texts) != len(want) {
		t.Fatalf("listed %q, want %q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Fatalf("listed %q, want %q", texts, want)
		}
	}

	page, err := client.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Limit: openai.Int(3)})
	if err != nil || len(page.Data) != 3 || !page.HasMore || page.Data[0].ID != added.Data[1].ID {
		t.Fatalf("first page newest first: %+v, %v", page, err)
	}

	afterDelete, err := client.Conversations.Items.Delete(ctx, conv.ID, reply.ID)
	if err != nil || afterDelete.ID != conv.ID {
		t.Fatalf("deleting item: %+v, %v", afterDelete, err)
	}
	_, err = client.Conversations.Items.Get(ctx, conv.ID, reply.ID, conversations.ItemGetParams{})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "not_found" {
		t.Fatalf("retrieving a deleted item: %v, want a 404 API error", err)
	}

	deleted, err := client.Conversations.Delete(ctx, conv.ID)
	if err != nil || deleted.ID != conv.ID || !deleted.Deleted || string(deleted.Object) != "conversation.deleted" {
		t.Fatalf("deleting: %+v, %v", deleted, err)
	}
	if _, err := client.Conversations.Get(ctx, conv.ID); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Fatalf("retrieving a deleted conversation: %v, want 404", err)
	}

	// Another user's SDK client sees nothing.
	bob := openai.NewClient(option.WithBaseURL(s.URL+"/v1/"), option.WithAPIKey(Bob), option.WithMaxRetries(0))
	other, err := client.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatalf("creating a second conversation: %v", err)
	}
	if _, err := bob.Conversations.Get(ctx, other.ID); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Fatalf("Bob retrieving Alice's conversation: %v, want 404", err)
	}
}
