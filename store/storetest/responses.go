package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// testResponses checks the stored responses of the Responses API: owner-only
// access, chains through previous_response_id, the conversation reference,
// deletion, retention and the cascade from users.
func testResponses(t *testing.T, s store.Store) {
	ctx := t.Context()
	create := func(t *testing.T, u store.User, prev, conv string, items ...string) store.Response {
		t.Helper()
		r, err := s.CreateResponse(ctx, store.Response{
			PublicID:            store.NewPublicID(store.PrefixResponse),
			UserID:              u.ID,
			PreviousResponseID:  prev,
			ConversationID:      conv,
			ConversationItemIDs: items,
			Model:               "m",
			Status:              "completed",
			Body:                []byte(`{"object":"response","output":[{"text":"a\u0000b"}]}`),
			Input:               []byte(`[{"id":"msg_1","type":"message"}]`),
		})
		must(t, "CreateResponse", err)
		return r
	}

	t.Run("create and get", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		conv, _ := newConversation(t, s, u)
		r := create(t, u, "", conv.PublicID, "msg_a", "msg_b")
		got, err := s.GetResponse(ctx, u.ID, r.PublicID)
		must(t, "GetResponse", err)
		if got.PublicID != r.PublicID || got.UserID != u.ID || got.Model != "m" || got.Status != "completed" ||
			got.ConversationID != conv.PublicID || !slices.Equal(got.ConversationItemIDs, []string{"msg_a", "msg_b"}) ||
			got.CreatedAt.IsZero() {
			t.Errorf("GetResponse = %+v, want the created response", got)
		}
		var body, input any
		if json.Unmarshal(got.Body, &body) != nil || json.Unmarshal(got.Input, &input) != nil {
			t.Errorf("Body %q / Input %q are not the JSON stored", got.Body, got.Input)
		}
		if string(got.Body) != `{"object":"response","output":[{"text":"a\u0000b"}]}` {
			t.Errorf("Body = %s, want it byte for byte (json keeps \\u0000)", got.Body)
		}
		_, err = s.GetResponse(ctx, other.ID, r.PublicID)
		wantErr(t, "GetResponse(other user)", err, store.ErrNotFound)
		_, err = s.GetResponse(ctx, u.ID, "resp_missing")
		wantErr(t, "GetResponse(unknown)", err, store.ErrNotFound)
		_, err = s.CreateResponse(ctx, store.Response{PublicID: r.PublicID, UserID: u.ID, Model: "m", Status: "completed", Body: []byte(`{}`), Input: []byte(`[]`)})
		wantErr(t, "CreateResponse(duplicate id)", err, store.ErrConflict)
	})

	t.Run("conversation reference", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		theirs, _ := newConversation(t, s, other)
		r := create(t, u, "", theirs.PublicID)
		if r.ConversationID != "" {
			t.Errorf("ConversationID = %q for another user's conversation, want none", r.ConversationID)
		}
		mine, _ := newConversation(t, s, u)
		r = create(t, u, "", mine.PublicID, "msg_x")
		must(t, "DeleteConversation", s.DeleteConversation(ctx, u.ID, mine.PublicID))
		got, err := s.GetResponse(ctx, u.ID, r.PublicID)
		must(t, "GetResponse", err)
		if got.ConversationID != "" || !slices.Equal(got.ConversationItemIDs, []string{"msg_x"}) {
			t.Errorf("after the conversation's deletion: ConversationID %q items %v, want none and the ids kept", got.ConversationID, got.ConversationItemIDs)
		}
	})

	t.Run("chain", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		a := create(t, u, "", "")
		b := create(t, u, a.PublicID, "")
		c := create(t, u, b.PublicID, "")
		ids := func(rs []store.Response) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.PublicID)
			}
			return out
		}
		chain, err := s.ResponseChain(ctx, u.ID, c.PublicID, 10, 1<<20)
		must(t, "ResponseChain", err)
		if want := []string{a.PublicID, b.PublicID, c.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain = %v, want %v (oldest first)", ids(chain), want)
		}
		chain, err = s.ResponseChain(ctx, u.ID, c.PublicID, 2, 1<<20)
		must(t, "ResponseChain(max 2)", err)
		if want := []string{b.PublicID, c.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain(max 2) = %v, want %v", ids(chain), want)
		}
		// A byte bound keeps the newest that fit, and always the response
		// itself.
		size := len(c.Body) + len(c.Input)
		chain, err = s.ResponseChain(ctx, u.ID, c.PublicID, 10, 2*size)
		must(t, "ResponseChain(two responses' bytes)", err)
		if want := []string{b.PublicID, c.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain(2×%d bytes) = %v, want %v", size, ids(chain), want)
		}
		chain, err = s.ResponseChain(ctx, u.ID, c.PublicID, 10, 1)
		must(t, "ResponseChain(1 byte)", err)
		if want := []string{c.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain(1 byte) = %v, want %v", ids(chain), want)
		}
		_, err = s.ResponseChain(ctx, other.ID, c.PublicID, 10, 1<<20)
		wantErr(t, "ResponseChain(other user)", err, store.ErrNotFound)
		// Another user's response never joins a chain, even when named.
		theirs := create(t, other, a.PublicID, "")
		chain, err = s.ResponseChain(ctx, other.ID, theirs.PublicID, 10, 1<<20)
		must(t, "ResponseChain(other's)", err)
		if want := []string{theirs.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain across users = %v, want %v", ids(chain), want)
		}
		must(t, "DeleteResponse", s.DeleteResponse(ctx, u.ID, b.PublicID))
		chain, err = s.ResponseChain(ctx, u.ID, c.PublicID, 10, 1<<20)
		must(t, "ResponseChain(after delete)", err)
		if want := []string{c.PublicID}; !slices.Equal(ids(chain), want) {
			t.Errorf("ResponseChain after deleting the middle = %v, want %v", ids(chain), want)
		}
	})

	t.Run("delete", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		r := create(t, u, "", "")
		wantErr(t, "DeleteResponse(other user)", s.DeleteResponse(ctx, other.ID, r.PublicID), store.ErrNotFound)
		must(t, "DeleteResponse", s.DeleteResponse(ctx, u.ID, r.PublicID))
		wantErr(t, "DeleteResponse(again)", s.DeleteResponse(ctx, u.ID, r.PublicID), store.ErrNotFound)
		_, err := s.GetResponse(ctx, u.ID, r.PublicID)
		wantErr(t, "GetResponse(deleted)", err, store.ErrNotFound)
	})

	t.Run("guest merge", func(t *testing.T) {
		guest, err := s.UpsertUser(ctx, store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		u := newUser(t, s)
		conv, _ := newConversation(t, s, guest)
		r := create(t, guest, "", conv.PublicID, "msg_g")
		_, err = s.MergeGuest(ctx, guest.ID, u.ID, now())
		must(t, "MergeGuest", err)
		got, err := s.GetResponse(ctx, u.ID, r.PublicID)
		must(t, "GetResponse(merged)", err)
		if got.UserID != u.ID || got.ConversationID != conv.PublicID {
			t.Errorf("merged response %+v, want the user's, in the merged conversation", got)
		}
		_, err = s.GetResponse(ctx, guest.ID, r.PublicID)
		wantErr(t, "GetResponse(as the merged guest)", err, store.ErrNotFound)
	})

	t.Run("retention and users", func(t *testing.T) {
		u := newUser(t, s)
		old := create(t, u, "", "")
		n, err := s.PurgeResponses(ctx, old.CreatedAt, 1)
		must(t, "PurgeResponses(before it)", err)
		if _, err := s.GetResponse(ctx, u.ID, old.PublicID); err != nil {
			t.Errorf("a response created at the cutoff was purged (%d deleted): %v", n, err)
		}
		n, err = s.PurgeResponses(ctx, now().Add(time.Hour), 1)
		must(t, "PurgeResponses", err)
		if n < 1 {
			t.Errorf("PurgeResponses = %d, want at least 1", n)
		}
		_, err = s.GetResponse(ctx, u.ID, old.PublicID)
		wantErr(t, "GetResponse(purged)", err, store.ErrNotFound)

		guest, err := s.UpsertUser(ctx, store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		r := create(t, guest, "", "")
		_, err = s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: now().Add(time.Hour)})
		must(t, "Purge", err)
		_, err = s.GetResponse(ctx, guest.ID, r.PublicID)
		wantErr(t, "GetResponse(of a purged guest)", err, store.ErrNotFound)
	})
}
