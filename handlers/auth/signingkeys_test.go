package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// racingStore makes the first two key listings wait for each other, so that
// two Services starting together both find no key and both create one.
type racingStore struct {
	store.Store
	listings atomic.Int32
	barrier  sync.WaitGroup
}

func (r *racingStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := r.Store.ListSigningKeys(ctx)
	if r.listings.Add(1) <= 2 {
		r.barrier.Done()
		r.barrier.Wait()
	}
	return keys, err
}

func testReplicasShareKeys(t *testing.T, st store.Store) {
	rs := &racingStore{Store: st}
	rs.barrier.Add(2)
	var services [2]*Service
	var wg sync.WaitGroup
	for i := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			services[i] = newService(t, rs, Config{})
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	keys, err := st.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("%d signing keys after a simultaneous start, want one per replica", len(keys))
	}
	srvs := [2]*httptest.Server{newServer(t, services[0]), newServer(t, services[1])}
	for _, c := range []struct{ issuer, verifier int }{{0, 1}, {1, 0}} {
		tok := guestLogin(t, srvs[c.issuer])
		if _, resp, data := whoamiAs(t, srvs[c.verifier], bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK {
			t.Fatalf("replica %d refused replica %d's token: status %d: %s", c.verifier, c.issuer, resp.StatusCode, data)
		}
	}
}

func TestReplicasShareKeysMemory(t *testing.T) { testReplicasShareKeys(t, memory.New()) }

func TestKeyRotation(t *testing.T) {
	clock := newFakeClock()
	st := memory.New()
	s := newService(t, st, Config{Now: clock.Now, KeyRotation: time.Hour, AccessTTL: 15 * time.Minute})
	srv := newServer(t, s)
	ctx := context.Background()

	clock.Advance(59 * time.Minute)
	before := guestLogin(t, srv)
	oldKID := kidOf(t, before.AccessToken)

	clock.Advance(2 * time.Minute)
	if err := s.keys.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	after := guestLogin(t, srv)
	newKID := kidOf(t, after.AccessToken)
	if newKID == oldKID {
		t.Fatal("no new signing key after the rotation period")
	}
	// Tokens of the retired key verify until they expire.
	for _, tok := range []string{before.AccessToken, after.AccessToken} {
		if _, resp, data := whoamiAs(t, srv, bearer(tok)); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
	}
	if kids := jwksKIDs(t, srv); len(kids) != 2 || kids[0] != newKID || kids[1] != oldKID {
		t.Fatalf("JWKS kids %v, want [%s %s]", kids, newKID, oldKID)
	}
	// A replica starting now signs with the new key too.
	other := newServer(t, newService(t, st, Config{Now: clock.Now, KeyRotation: time.Hour, AccessTTL: 15 * time.Minute}))
	if kid := kidOf(t, guestLogin(t, other).AccessToken); kid != newKID {
		t.Fatalf("second replica signs with %s, want %s", kid, newKID)
	}

	// Once its last tokens have expired, the retired key is dropped.
	clock.Advance(15*time.Minute + gatewayLeeway + time.Second)
	if err := s.keys.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKIDs(t, srv); len(kids) != 1 || kids[0] != newKID {
		t.Fatalf("JWKS kids %v after the old key's tokens expired, want [%s]", kids, newKID)
	}
	forged := mintGateway(t, s, gatewayClaims(before.UserID, clock.Now()), s.keys.lookup(newKID).private, oldKID)
	_, resp, data := whoamiAs(t, srv, bearer(forged))
	wantError(t, resp, data, http.StatusUnauthorized, "invalid_token")
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// jwksKIDs returns the key ids the server's JWKS lists, in order.
func jwksKIDs(t *testing.T, srv *httptest.Server) []string {
	t.Helper()
	resp, data := call(t, srv, "GET", PathJWKS, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: status %d: %s", resp.StatusCode, data)
	}
	var kids []string
	for _, k := range decode[jose.JSONWebKeySet](t, data).Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// TestUnreadableKeysAreSkipped checks that a key row another version wrote
// (or a corrupt one) does not keep the gateway from starting.
func TestUnreadableKeysAreSkipped(t *testing.T) {
	st := memory.New()
	ctx := context.Background()
	for _, k := range []store.SigningKey{
		{KID: "corrupt", Algorithm: signingAlgorithm, PrivateKey: []byte("not DER"), CreatedAt: time.Now()},
		{KID: "other-alg", Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: time.Now()},
	} {
		if err := st.CreateSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	srv := newServer(t, newService(t, st, Config{}))
	tok := guestLogin(t, srv)
	if kid := kidOf(t, tok.AccessToken); kid == "corrupt" || kid == "other-alg" || strings.TrimSpace(kid) == "" {
		t.Fatalf("signed with kid %q", kid)
	}
}
