package chat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// env is a store with one user and a recorder on it.
type env struct {
	st   store.Store
	rec  *Recorder
	user *principal.Principal
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	u, err := st.UpsertUser(context.Background(), store.User{Issuer: "turns", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, rec: &Recorder{Store: st}, user: &principal.Principal{UserID: u.ID}}
}

func (e *env) begin(t *testing.T, body string) (Turn, *refusal) {
	t.Helper()
	req, aerr := openai.ParseChatRequest([]byte(body))
	if aerr != nil {
		t.Fatalf("parsing %s: %v", body, aerr)
	}
	turn, aerr := e.rec.BeginTurn(context.Background(), e.user, req, []byte(body))
	if aerr != nil {
		return nil, &refusal{aerr.Status, aerr.Code}
	}
	return turn, nil
}

type refusal struct {
	status int
	code   string
}

func (e *env) items(t *testing.T, conv string) []store.Item {
	t.Helper()
	page, err := e.st.ListItems(context.Background(), e.user.UserID, conv, store.ListOptions{Limit: 100, Order: store.OrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func (e *env) conversation(t *testing.T, c store.Conversation) store.Conversation {
	t.Helper()
	c.UserID = e.user.UserID
	conv, _, err := e.st.CreateConversation(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	for _, s := range httpxtest.Stores {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			ctx := context.Background()

			t.Run("a titled conversation keeps its title", func(t *testing.T) {
				e := newEnv(t, st)
				conv := e.conversation(t, store.Conversation{Title: "Mine"})
				turn, aerr := e.begin(t, `{"model":"m","conversation":"`+conv.PublicID+`","messages":[{"role":"user","content":"Something else"}]}`)
				if aerr != nil {
					t.Fatal(aerr)
				}
				if turn.Conversation() != (ConversationRef{ID: conv.PublicID, Title: "Mine"}) {
					t.Errorf("ref %+v", turn.Conversation())
				}
				if err := turn.Finish(ctx, Reply{Text: "Sure"}); err != nil {
					t.Fatal(err)
				}
				if items := e.items(t, conv.PublicID); len(items) != 2 || items[0].Content[0].Text != "Something else" || items[1].Content[0].Text != "Sure" {
					t.Errorf("items %+v", items)
				}
				if got, _ := st.GetConversation(ctx, e.user.UserID, conv.PublicID); got.Title != "Mine" {
					t.Errorf("title %q", got.Title)
				}
			})

			t.Run("a request ending with a tool result appends only the reply", func(t *testing.T) {
				e := newEnv(t, st)
				conv := e.conversation(t, store.Conversation{})
				turn, aerr := e.begin(t, `{"model":"m","conversation":{"id":"`+conv.PublicID+`"},"messages":[`+
					`{"role":"user","content":"Weather in Paris?"},`+
					`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},`+
					`{"role":"tool","tool_call_id":"c1","content":"sunny"}]}`)
				if aerr != nil {
					t.Fatal(aerr)
				}
				if err := turn.Finish(ctx, Reply{Text: "Sunny."}); err != nil {
					t.Fatal(err)
				}
				items := e.items(t, conv.PublicID)
				if len(items) != 1 || items[0].Role != "assistant" {
					t.Errorf("items %+v", items)
				}
				if turn.Conversation().Title != "Weather in Paris?" {
					t.Errorf("title %q", turn.Conversation().Title)
				}
			})

			t.Run("a deleted project gives no instruction", func(t *testing.T) {
				e := newEnv(t, st)
				p, err := st.CreateProject(ctx, store.Project{UserID: e.user.UserID, Name: "P", Instruction: "Be a pirate."})
				if err != nil {
					t.Fatal(err)
				}
				conv := e.conversation(t, store.Conversation{ProjectPublicID: p.PublicID})
				body := `{"model":"m","conversation":"` + conv.PublicID + `","messages":[{"role":"user","content":"Hi"}]}`
				turn, aerr := e.begin(t, body)
				if aerr != nil || !reflect.DeepEqual(turn.SystemMessages(), []string{"Be a pirate."}) {
					t.Fatalf("system %q, %v", turn.SystemMessages(), aerr)
				}
				if err := st.DeleteProject(ctx, e.user.UserID, p.PublicID, time.Now()); err != nil {
					t.Fatal(err)
				}
				turn, aerr = e.begin(t, body)
				if aerr != nil || turn.SystemMessages() != nil {
					t.Fatalf("system %q, %v", turn.SystemMessages(), aerr)
				}
			})

			t.Run("store false writes nothing, finish included", func(t *testing.T) {
				e := newEnv(t, st)
				conv := e.conversation(t, store.Conversation{})
				turn, aerr := e.begin(t, `{"model":"m","store":false,"conversation":"`+conv.PublicID+`","messages":[{"role":"user","content":"Hi"}]}`)
				if aerr != nil {
					t.Fatal(aerr)
				}
				if err := turn.Finish(ctx, Reply{Text: "Hello"}); err != nil {
					t.Fatal(err)
				}
				if items := e.items(t, conv.PublicID); len(items) != 0 {
					t.Errorf("items %+v", items)
				}
			})

			t.Run("another user's conversation", func(t *testing.T) {
				owner, other := newEnv(t, st), newEnv(t, st)
				conv := owner.conversation(t, store.Conversation{})
				for _, body := range []string{
					`{"model":"m","conversation":"` + conv.PublicID + `","messages":[{"role":"user","content":"Hi"}]}`,
					`{"model":"m","store":false,"conversation":"` + conv.PublicID + `","messages":[{"role":"user","content":"Hi"}]}`,
				} {
					if _, aerr := other.begin(t, body); aerr == nil || *aerr != (refusal{http.StatusNotFound, "not_found"}) {
						t.Errorf("got %v, want a 404", aerr)
					}
				}
				if items := owner.items(t, conv.PublicID); len(items) != 0 {
					t.Errorf("items %+v", items)
				}
				if got, _ := st.GetConversation(ctx, owner.user.UserID, conv.PublicID); got.Title != "" {
					t.Errorf("title %q", got.Title)
				}
			})
		})
	}
}

// brokenStore fails reading settings with an error that is not the
// store's.
type brokenStore struct{ store.Store }

func (brokenStore) GetSettings(context.Context, int64) (store.UserSettings, error) {
	return store.UserSettings{}, errors.New("decoding settings: unexpected end of JSON input")
}

func TestRecorderUnexpectedErrorIsLogged(t *testing.T) {
	st := httpxtest.Stores[0].New(t)
	e := newEnv(t, st)
	core, logs := observer.New(zap.DebugLevel)
	e.rec = &Recorder{Store: brokenStore{st}, Logger: zap.New(core)}
	conv := e.conversation(t, store.Conversation{})
	_, aerr := e.begin(t, `{"model":"m","conversation":"`+conv.PublicID+`","messages":[{"role":"user","content":"a secret message"}]}`)
	if aerr == nil || *aerr != (refusal{http.StatusInternalServerError, "internal_error"}) {
		t.Fatalf("got %v, want a 500", aerr)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d log entries, want 1", logs.Len())
	}
	entry := logs.All()[0]
	if logged := entry.Message + fmt.Sprint(entry.ContextMap()); !strings.Contains(logged, "unexpected end of JSON input") || strings.Contains(logged, "secret") {
		t.Errorf("log entry %s", logged)
	}
}

func TestReadInput(t *testing.T) {
	text := func(s string) store.ContentPart { return store.ContentPart{Type: "input_text", Text: s} }
	tests := []struct {
		name      string
		messages  string
		wantTitle string
		wantUser  []store.ContentPart // nil: no user message
	}{
		{"one message", `[{"role":"user","content":"Hello there"}]`, "Hello there", []store.ContentPart{text("Hello there")}},
		{"history resent: only the last is new, the title is the first's",
			`[{"role":"system","content":"Be kind."},{"role":"user","content":"First question"},{"role":"assistant","content":"An answer"},{"role":"user","content":"Second question"}]`,
			"First question", []store.ContentPart{text("Second question")}},
		{"text parts joined, images kept by URL or id",
			`[{"role":"user","content":[{"type":"text","text":"What is"},{"type":"image_url","image_url":{"url":"jan_01hqr8v9k2"}},{"type":"text","text":"this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}]`,
			"What is this?", []store.ContentPart{text("What is\nthis?"), {Type: "input_image", ImageURL: "jan_01hqr8v9k2"}, {Type: "input_image", ImageURL: "https://example.com/a.png"}}},
		{"inline image replaced by a note",
			`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("QUJD", 1000) + `"}}]}]`,
			"", []store.ContentPart{text("[image not stored: inline image/png data]")}},
		{"title from the first user message with text",
			`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},{"role":"assistant","content":"A cat."},{"role":"user","content":"Is it cute?"}]`,
			"Is it cute?", []store.ContentPart{text("Is it cute?")}},
		{"ends with a tool result: no new user message",
			`[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]`,
			"Weather in Paris?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readInput([]byte(`{"model":"m","messages":` + tt.messages + `}`))
			if in.title != tt.wantTitle {
				t.Errorf("title %q, want %q", in.title, tt.wantTitle)
			}
			if tt.wantUser == nil {
				if in.user != nil {
					t.Errorf("user message %+v, want none", *in.user)
				}
				return
			}
			if in.user == nil {
				t.Fatal("no user message")
			}
			if in.user.Role != "user" || in.user.Type != "message" || in.user.Status != store.ItemStatusCompleted {
				t.Errorf("user item %+v", *in.user)
			}
			if !reflect.DeepEqual(in.user.Content, tt.wantUser) {
				t.Errorf("content %+v, want %+v", in.user.Content, tt.wantUser)
			}
		})
	}
}

// The stored strings must not share memory with the request body, which
// would pin it (and a reused buffer would change them).
func TestReadInputCopies(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"Hello there"}]}`)
	in := readInput(body)
	for i := range body {
		body[i] = 'x'
	}
	if in.title != "Hello there" || in.user.Content[0].Text != "Hello there" {
		t.Errorf("input changed with the body: %q %q", in.title, in.user.Content[0].Text)
	}
}
