package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/caddy-llm/gateway/store"
)

// mapErr turns an error of pgx or goose into one of the store's errors,
// prefixed with op ("doing X"). parent is the caller's context before the
// query timeout was added: when it was cancelled, the caller went away and
// the error is the context's, not the database's.
func (s *Store) mapErr(parent context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if isStoreErr(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%s: %w", op, store.ErrConflict)
		case pgErr.Code == "23503": // foreign_key_violation: the user or parent is gone
			return fmt.Errorf("%s: %w", op, store.ErrNotFound)
		case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"):
			// data_exception (a NUL in text or jsonb: 22021, 22P05; a
			// value out of range) and the other integrity violations
			// (not null, check): what the caller gave is refused, the
			// database is fine. Only the code is kept: the message may
			// quote the value.
			return fmt.Errorf("%s: %w: SQLSTATE %s", op, store.ErrInvalidValue, pgErr.Code)
		case unavailableCode(pgErr.Code):
			s.unavailable()
			return fmt.Errorf("%s: %w: SQLSTATE %s", op, store.ErrUnavailable, pgErr.Code)
		}
		// The server's message names tables and constraints, not the
		// query; keep it for the logs.
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) && parent.Err() != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if s.closed.Load() || isConnectionErr(err) {
		s.unavailable()
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports an outage to the configured hook (a metric).
func (s *Store) unavailable() {
	if s.onUnavailable != nil {
		s.onUnavailable()
	}
}

// unavailableCode reports SQLSTATEs that mean "try again later": the server
// is going away, starting up, overloaded, or cancelled the statement.
func unavailableCode(code string) bool {
	switch code {
	case "53300", // too_many_connections
		"57014", // query_canceled (statement_timeout)
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now
		"40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	}
	return strings.HasPrefix(code, "08") // connection_exception
}

// isConnectionErr reports errors of reaching the server or of waiting for
// it: refused or broken connections, timeouts, and a closed pool.
func isConnectionErr(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

var storeErrs = []error{
	store.ErrNotFound, store.ErrConflict, store.ErrTokenReused,
	store.ErrExpired, store.ErrUnavailable, store.ErrInvalidCursor, store.ErrLimitReached,
	store.ErrInvalidValue,
}

func isStoreErr(err error) bool {
	for _, target := range storeErrs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
