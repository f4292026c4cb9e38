package conversation

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// TestRecorderBegin drives the domain's own API, a Turn with no request
// behind it, as the Responses API and memory will.
func TestRecorderBegin(t *testing.T) {
	t.Parallel()
	for _, s := range httpxtest.Stores {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			ctx := context.Background()
			user := func(t *testing.T) int64 {
				u, err := st.UpsertUser(ctx, store.User{Issuer: "test", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
				if err != nil {
					t.Fatal(err)
				}
				return u.ID
			}
			rec := &Recorder{Store: st}
			hello := UserItem([]string{"Hello there"}, nil)

			t.Run("a new conversation holds the turn", func(t *testing.T) {
				uid := user(t)
				r, err := rec.Begin(ctx, Turn{UserID: uid, Write: true, Title: TitleFrom("Hello there"), User: &hello})
				if err != nil {
					t.Fatal(err)
				}
				if r.Conversation().Title != "Hello there" || r.SystemMessages() != nil || r.TitleError() != nil {
					t.Errorf("recording %+v %q %v", r.Conversation(), r.SystemMessages(), r.TitleError())
				}
				if err := r.Finish(ctx, Reply{Text: "Hi!"}); err != nil {
					t.Fatal(err)
				}
				page, err := st.ListItems(ctx, uid, r.Conversation().ID, store.ListOptions{Limit: 10, Order: store.OrderAsc})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, it := range page.Items {
					got = append(got, it.Role+":"+it.Content[0].Type+":"+it.Content[0].Text)
				}
				if want := []string{"user:input_text:Hello there", "assistant:output_text:Hi!"}; !reflect.DeepEqual(got, want) {
					t.Errorf("items %q, want %q", got, want)
				}
			})

			t.Run("another user's conversation is not found, nothing written", func(t *testing.T) {
				owner, other := user(t), user(t)
				conv, _, err := st.CreateConversation(ctx, store.Conversation{UserID: owner}, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = rec.Begin(ctx, Turn{UserID: other, ConversationID: conv.PublicID, Write: true, Title: "x", User: &hello})
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("error %v, want store.ErrNotFound", err)
				}
				page, err := st.ListItems(ctx, owner, conv.PublicID, store.ListOptions{Limit: 10})
				if err != nil || len(page.Items) != 0 {
					t.Errorf("items %+v (%v), want none", page.Items, err)
				}
			})

			t.Run("a turn not written still gets the project's instruction", func(t *testing.T) {
				uid := user(t)
				p, err := st.CreateProject(ctx, store.Project{UserID: uid, Name: "P", Instruction: "Be a pirate."})
				if err != nil {
					t.Fatal(err)
				}
				conv, _, err := st.CreateConversation(ctx, store.Conversation{UserID: uid, ProjectPublicID: p.PublicID}, nil)
				if err != nil {
					t.Fatal(err)
				}
				r, err := rec.Begin(ctx, Turn{UserID: uid, ConversationID: conv.PublicID, Write: false, Title: "x", User: &hello})
				if err != nil {
					t.Fatal(err)
				}
				if got := r.SystemMessages(); !reflect.DeepEqual(got, []string{"Be a pirate."}) {
					t.Errorf("system messages %q", got)
				}
				if err := r.Finish(ctx, Reply{Text: "Arr"}); err != nil {
					t.Fatal(err)
				}
				page, err := st.ListItems(ctx, uid, conv.PublicID, store.ListOptions{Limit: 10})
				if err != nil || len(page.Items) != 0 {
					t.Errorf("items %+v (%v), want none", page.Items, err)
				}
				if got, _ := st.GetConversation(ctx, uid, conv.PublicID); got.Title != "" {
					t.Errorf("title %q, want none", got.Title)
				}
			})
		})
	}
}

// The in-memory store declares its queries in-process, so that a turn's
// queries run one after another there; PostgreSQL's run concurrently.
func TestStoresDeclareInProcess(t *testing.T) {
	for _, s := range httpxtest.Stores {
		ip, ok := s.New(t).(store.InProcess)
		if got, want := ok && ip.InProcess(), s.Name == "memory"; got != want {
			t.Errorf("%s: in-process %v, want %v", s.Name, got, want)
		}
	}
}
