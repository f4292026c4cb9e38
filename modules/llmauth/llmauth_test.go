package llmauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/auth"
)

func TestStripIdentityHeaders(t *testing.T) {
	h := http.Header{}
	// As a client may spell them; Go canonicalizes names as it reads
	// requests, which Header.Add does too.
	for _, name := range []string{
		"X-User-ID", "x-user-email", "X-USER-KIND",
		"X-Consumer-ID", "X-Consumer-Username", "X-Consumer-Custom-ID",
		"X-Principal-Id", "X-Principal-Kind",
		"X-Auth-Method",
		"X-Credential-Identifier", "X-Anonymous-Consumer",
		"X-Authenticated-Userid", "X-Authenticated-Scope", "X-Userinfo",
	} {
		h.Add(name, "usr_victim")
	}
	kept := http.Header{
		"Authorization":   {"Bearer token"},
		"X-Api-Key":       {"sk_key"},
		"X-Request-Id":    {"req-1"},
		"X-Forwarded-For": {"203.0.113.7"},
		"X-Username-Hint": {"not an identity header"},
		"Content-Type":    {"application/json"},
	}
	for name, v := range kept {
		h[name] = v
	}
	stripIdentityHeaders(h)
	if !reflect.DeepEqual(h, kept) {
		t.Fatalf("after stripping: %v\nwant: %v", h, kept)
	}
}

func TestIsPublic(t *testing.T) {
	h := &Handler{PublicPaths: []string{"/status", "/docs/*"}}
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v1/healthz", true},
		{"GET", "/v1/readyz", true},
		{"GET", "/v1/version", true},
		{"POST", "/llm/auth/guest-login", true},
		{"POST", "/llm/auth/refresh-token", true},
		{"GET", "/llm/auth/logout", true},
		{"GET", "/.well-known/jwks.json", true},
		{"GET", "/status", true},
		{"GET", "/docs/", true},
		{"GET", "/docs/api/index.html", true},

		{"GET", "/llm/auth/guest-login", false}, // only POST is public
		{"GET", "/llm/auth/me", false},
		{"POST", "/llm/auth/api-keys", false},
		{"GET", "/v1/conversations", false},
		{"GET", "/v1/healthz/../conversations", false},
		{"GET", "/v1//healthz", false},
		{"GET", "/status/more", false}, // not a prefix entry
		{"GET", "/docs", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, "http://gateway"+tc.path, nil)
		r.URL.Path = tc.path // keep uncleaned paths as a client may send them
		if got := h.isPublic(r); got != tc.want {
			t.Errorf("isPublic(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestWriteRefusal(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		challenge string
		status    int
		wantChall string
		code      string
	}{
		{"no credentials", auth.MissingCredentials(), challengeMissing, 401, `Bearer realm="llm"`, "missing_credentials"},
		{"bad credentials", apierr.New(401, "invalid_token", "the access token is invalid"), challengeInvalid, 401, `Bearer realm="llm", error="invalid_token"`, "invalid_token"},
		{"store down: no challenge", apierr.New(503, "database_unavailable", "retry"), challengeInvalid, 503, "", "database_unavailable"},
		{"unexpected error type", http.ErrNoCookie, challengeInvalid, 401, `Bearer realm="llm", error="invalid_token"`, "invalid_credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeRefusal(rec, tc.err, tc.challenge)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.wantChall {
				t.Fatalf("WWW-Authenticate = %q, want %q", got, tc.wantChall)
			}
			var body struct {
				Error struct{ Message, Type, Code string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" || body.Error.Type == "" {
				t.Fatalf("body %s (%v), want an error with code %s", rec.Body, err, tc.code)
			}
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		input   string
		want    []string
		wantErr bool
	}{
		{"llm_auth", nil, false},
		{"llm_auth {\n}", nil, false},
		{"llm_auth {\n\tpublic /status /docs/*\n\tpublic /metrics\n}", []string{"/status", "/docs/*", "/metrics"}, false},
		{"llm_auth extra", nil, true},
		{"llm_auth {\n\tpublic\n}", nil, true},
		{"llm_auth {\n\tunknown x\n}", nil, true},
	}
	for _, tc := range tests {
		h := new(Handler)
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.input, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(h.PublicPaths, tc.want) {
			t.Errorf("%q: public paths %v, want %v", tc.input, h.PublicPaths, tc.want)
		}
	}
}
