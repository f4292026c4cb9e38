package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// closedPortURL returns a PostgreSQL URL on a loopback port nothing listens
// on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return fmt.Sprintf("postgres://postgres:secret@%s/postgres?sslmode=disable", addr)
}

// A database that is down at start does not fail Open (containers start in
// any order): the store answers ErrUnavailable, quickly, until it connects.
func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	st, err := postgres.Open(t.Context(), postgres.Config{URL: closedPortURL(t), ConnectTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open on a closed port: %v, want a store that retries in the background", err)
	}
	defer st.Close()
	for name, err := range map[string]error{
		"Ping":    st.Ping(t.Context()),
		"GetUser": func() error { _, err := st.GetUser(t.Context(), 1); return err }(),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed port: error = %v, want store.ErrUnavailable", name, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error text leaks the password: %v", err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open and two calls took %v, want about the connect timeout", d)
	}
}

func TestOpenInvalidURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), postgres.Config{URL: "postgres://user:secret@[::1/db"})
	if err == nil {
		t.Fatal("Open with an invalid URL succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error text leaks the password: %v", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := open(t)
	_ = s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close: error = %v, want store.ErrUnavailable", err)
	}
	if _, err := s.GetUser(t.Context(), 1); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetUser after Close: error = %v, want store.ErrUnavailable", err)
	}
}

// TestQueryTimeoutIsUnavailable holds a conversation's row lock from outside
// the store, so an append waits for longer than the query timeout.
func TestQueryTimeoutIsUnavailable(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	s, err := postgres.Open(t.Context(), postgres.Config{URL: url, QueryTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	u, err := s.UpsertUser(ctx, store.User{Issuer: "i", Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateConversation(ctx, store.Conversation{UserID: u.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}

	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = s.AppendItems(ctx, u.ID, c.PublicID, []store.Item{{Role: "user"}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("AppendItems on a locked conversation: error = %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("AppendItems took %v, want about the 300ms query timeout", d)
	}

	// A caller that goes away is not the database's fault.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.GetConversation(cancelled, u.ID, c.PublicID)
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetConversation with a cancelled context: error = %v, want context.Canceled only", err)
	}
}

func TestErrorsDoNotCarrySQL(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	u, err := s.UpsertUser(ctx, store.User{Issuer: "i", Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject(ctx, store.Project{UserID: u.ID, Name: "dup"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateProject(ctx, store.Project{UserID: u.ID, Name: "DUP"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate project: error = %v, want store.ErrConflict", err)
	}
	for _, word := range []string{"INSERT", "SELECT", "projects_user_name_key", "SQLSTATE"} {
		if strings.Contains(err.Error(), word) {
			t.Errorf("error %q contains %q", err, word)
		}
	}
}

// Values PostgreSQL refuses (a NUL character in text or jsonb) are the
// caller's fault: store.ErrInvalidValue, which handlers answer with 400,
// never an unexpected error logged as a failure.
func TestRefusedValuesAreInvalid(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	u, err := s.UpsertUser(ctx, store.User{Issuer: "https://issuer.test", Subject: "nul", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateConversation(ctx, store.Conversation{UserID: u.ID, Title: "a\x00b"}, nil); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("NUL in a title: error = %v, want store.ErrInvalidValue", err)
	}
	c, _, err := s.CreateConversation(ctx, store.Conversation{UserID: u.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := []store.Item{{Role: "user", Content: []store.ContentPart{{Type: "input_text", Text: "a\x00b"}}}}
	if _, err := s.AppendItems(ctx, u.ID, c.PublicID, items); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("NUL in item text (jsonb): error = %v, want store.ErrInvalidValue", err)
	}
	if _, err := s.GetConversation(ctx, u.ID, "conv_\x00"); !errors.Is(err, store.ErrInvalidValue) {
		t.Errorf("NUL in a looked-up id: error = %v, want store.ErrInvalidValue", err)
	}
}
