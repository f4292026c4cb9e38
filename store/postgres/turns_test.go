package postgres_test

import (
	"context"
	"testing"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// StartTurn's commit skips the wait for the disk, and only its own: the
// pooled connection it used commits synchronously again afterwards.
func TestStartTurnLeavesSynchronousCommitOn(t *testing.T) {
	ctx := context.Background()
	s, u, c := newOneConnTurnStore(t)
	hi := store.Item{Role: "user", Content: []store.ContentPart{{Type: "input_text", Text: "hi"}}}
	if _, err := s.StartTurn(ctx, u.ID, c.PublicID, store.TurnStart{Write: true, User: &hi, Title: "T"}); err != nil {
		t.Fatal(err)
	}
	var setting string
	if err := s.Pool().QueryRow(ctx, `SHOW synchronous_commit`).Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "on" {
		t.Fatalf("synchronous_commit is %q on the connection after StartTurn, want on", setting)
	}
}

// A turn whose batch fails part-way (an unknown conversation, content the
// database refuses, a caller gone) leaves no synchronous_commit off on the
// pooled connection either.
func TestStartTurnFailingLeavesSynchronousCommitOn(t *testing.T) {
	ctx := context.Background()
	s, u, c := newOneConnTurnStore(t)
	nul := store.Item{Role: "user", Content: []store.ContentPart{{Type: "input_text", Text: "a\x00b"}}}
	hi := store.Item{Role: "user", Content: []store.ContentPart{{Type: "input_text", Text: "hi"}}}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for name, start := range map[string]func() error{
		"unknown conversation": func() error {
			_, err := s.StartTurn(ctx, u.ID, "conv_nope", store.TurnStart{Write: true, User: &hi, Title: "T"})
			return err
		},
		"NUL in content": func() error {
			_, err := s.StartTurn(ctx, u.ID, c.PublicID, store.TurnStart{Write: true, User: &nul, Title: "T"})
			return err
		},
		"caller gone": func() error {
			_, err := s.StartTurn(canceled, u.ID, c.PublicID, store.TurnStart{Write: true, User: &hi, Title: "T"})
			return err
		},
	} {
		if err := start(); err == nil {
			t.Fatalf("%s: StartTurn succeeded", name)
		}
		var setting string
		if err := s.Pool().QueryRow(ctx, `SHOW synchronous_commit`).Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting != "on" {
			t.Fatalf("%s: synchronous_commit is %q on the connection after a failed StartTurn, want on", name, setting)
		}
	}
}

// newOneConnTurnStore returns a store whose pool holds one connection (every
// query after a turn runs on the turn's connection), a user and a
// conversation of the user.
func newOneConnTurnStore(t *testing.T) (*postgres.Store, store.User, store.Conversation) {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: storetest.NewMigratedPostgresDatabase(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	u, err := s.UpsertUser(ctx, store.User{Issuer: "test", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateConversation(ctx, store.Conversation{UserID: u.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, u, c
}
