package conversation

import (
	"context"
	"reflect"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// recordingMemory is a Memory that recalls "remembered: <text>" and keeps
// what it is asked to observe.
type recordingMemory struct {
	recalled []string
	observed []Observation
}

func (m *recordingMemory) Recall(_ context.Context, q RecallQuery) string {
	m.recalled = append(m.recalled, q.Text)
	return "remembered: " + q.Text
}

func (m *recordingMemory) Observe(o Observation) { m.observed = append(m.observed, o) }

// Memory takes part in every kind of turn, on both stores: a new
// conversation, an existing one (a store.TurnStore starts it in one go),
// a turn whose adapter appends its own items (UserText, Observe), and not
// in a turn that is not written.
func TestRecorderMemory(t *testing.T) {
	t.Parallel()
	for _, s := range httpxtest.Stores {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			ctx := context.Background()
			u, err := st.UpsertUser(ctx, store.User{Issuer: "test", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
			if err != nil {
				t.Fatal(err)
			}
			conv, _, err := st.CreateConversation(ctx, store.Conversation{UserID: u.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			mem := &recordingMemory{}
			rec := &Recorder{Store: st, Memory: mem}
			hello := UserItem([]string{"I live in Paris"}, nil)
			for _, tc := range []struct {
				name    string
				turn    Turn
				adapter bool // the adapter stores the reply and calls Observe
				text    string
				observe bool
			}{
				{"new conversation", Turn{UserID: u.ID, Write: true, User: &hello}, false, "I live in Paris", true},
				{"existing conversation", Turn{UserID: u.ID, ConversationID: conv.PublicID, Write: true, User: &hello}, false, "I live in Paris", true},
				{"adapter's own items", Turn{UserID: u.ID, ConversationID: conv.PublicID, Write: true, UserText: " I like jazz "}, true, "I like jazz", true},
				{"not written", Turn{UserID: u.ID, ConversationID: conv.PublicID, Write: false, UserText: "I like tea"}, true, "I like tea", false},
			} {
				mem.recalled, mem.observed = nil, nil
				r, err := rec.Begin(ctx, tc.turn)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got := r.SystemMessages(); !reflect.DeepEqual(got, []string{"remembered: " + tc.text}) || !reflect.DeepEqual(mem.recalled, []string{tc.text}) {
					t.Errorf("%s: system messages %q, recalled %q", tc.name, got, mem.recalled)
				}
				if tc.adapter {
					r.Observe(Reply{Text: "Noted."})
				} else if err := r.Finish(ctx, Reply{Text: "Noted."}); err != nil {
					t.Fatal(err)
				}
				var want []Observation
				if tc.observe {
					want = []Observation{{UserID: u.ID, ConversationPublicID: r.Conversation().ID, User: tc.text, Assistant: "Noted."}}
				}
				if !reflect.DeepEqual(mem.observed, want) {
					t.Errorf("%s: observed %+v, want %+v", tc.name, mem.observed, want)
				}
			}
		})
	}
}
