package main

// Growth (issue #12, finding 8; DESIGN §14): guests nobody uses any more and
// expired refresh tokens are deleted by the retention job, through a real
// Caddy on PostgreSQL.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestHostileRetentionDeletesIdleGuestsAndExpiredTokens(t *testing.T) {
	e := startAuthGateway(t, authOptions{Auth: "guest_retention 720h\n\t\t\tretention_interval 200ms"})
	ctx := context.Background()
	db, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer db.Close(ctx)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}

	// A guest who chatted a month ago and never came back, and one who is
	// active: it logged in and refreshed once.
	idle := e.guestLogin(t)
	if r := e.do("POST", "/v1/conversations", map[string]any{}, bearerHeader(idle.Access)...); r.Status >= 300 {
		t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}
	active := e.guestLogin(t)
	refreshed := e.wantSession(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": active.Refresh}), http.StatusOK)

	// Counted before they are made old: from then on the job, which runs
	// every moment here, may delete them.
	if n := count(`SELECT count(*) FROM refresh_tokens`); n != 3 {
		t.Fatalf("%d refresh tokens before the job, want 3", n)
	}
	// Move the idle guest and its tokens 31 days back, and let the active
	// guest's first (used) token expire.
	for _, q := range []string{
		`UPDATE users SET created_at = now() - interval '31 days' WHERE public_id = $1`,
		`UPDATE refresh_tokens SET created_at = now() - interval '31 days', expires_at = now() - interval '1 day'
		 WHERE user_id = (SELECT id FROM users WHERE public_id = $1)`,
	} {
		if _, err := db.Exec(ctx, q, idle.UserID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.Exec(ctx, `UPDATE refresh_tokens SET expires_at = now() - interval '1 second'
		WHERE user_id = (SELECT id FROM users WHERE public_id = $1) AND used_at IS NOT NULL`, active.UserID); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 10*time.Second, func() (int, bool) {
		n := count(`SELECT count(*) FROM users WHERE public_id = $1`, idle.UserID)
		return n, n == 0
	})
	if n := count(`SELECT count(*) FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.public_id = $1`, idle.UserID); n != 0 {
		t.Errorf("the deleted guest's %d conversations remain", n)
	}
	waitFor(t, 5*time.Second, func() (int, bool) {
		n := count(`SELECT count(*) FROM refresh_tokens`)
		return n, n == 1 // the active guest's current token
	})

	// The active guest is untouched: its current token refreshes.
	e.wantSession(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": refreshed.Refresh}), http.StatusOK)
	// The idle guest's refresh token went with it.
	wantError(t, e.do("POST", "/llm/auth/refresh-token", map[string]string{"refresh_token": idle.Refresh}), http.StatusUnauthorized, "")
}
