// Package httpxtest runs API handlers under test: an httptest server on a
// real store with two users, alice and bob, whose principal a small
// middleware sets from "Authorization: Bearer alice" (or bob), and helpers
// to send requests and read answers. It is imported by tests only.
package httpxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/storetest"
)

// The two users of every server.
const (
	Alice = "alice"
	Bob   = "bob"
)

// Registrar is a group of routes (every handler of this module is one).
type Registrar interface {
	Register(mux *http.ServeMux)
}

// Server is a test server running route groups on a store.
type Server struct {
	*httptest.Server
	Store store.Store
	// UserIDs maps Alice and Bob to their internal user ids.
	UserIDs map[string]int64
}

// NewServer creates two new users in st and starts a server for the groups;
// it is closed when the test ends. The users are new on every call, so
// servers sharing one store see none of each other's data.
func NewServer(t testing.TB, st store.Store, groups ...Registrar) *Server {
	t.Helper()
	s := &Server{Store: st, UserIDs: map[string]int64{}}
	for _, name := range []string{Alice, Bob} {
		u, err := st.UpsertUser(context.Background(), store.User{
			Issuer: "httpxtest", Subject: storetest.RandomName(name + "-"), Kind: store.UserKindUser, Username: name,
		})
		if err != nil {
			t.Fatalf("creating user %s: %v", name, err)
		}
		s.UserIDs[name] = u.ID
	}
	mux := http.NewServeMux()
	for _, g := range groups {
		g.Register(mux)
	}
	s.Server = httptest.NewServer(s.authenticate(mux))
	t.Cleanup(s.Close)
	return s
}

// authenticate sets the principal named by the bearer token, if it is one of
// the users; any other request goes on without one.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if id, ok := s.UserIDs[name]; ok {
			r = r.WithContext(principal.With(r.Context(), &principal.Principal{
				UserID: id, UserPublicID: "usr_" + name, Kind: principal.KindUser, Method: principal.MethodJWT,
			}))
		}
		next.ServeHTTP(w, r)
	})
}

// Response is an answer of the server.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request as user ("" sends none) and fails the test when it
// cannot. body is sent as it is when it is a string, as JSON otherwise, and
// not at all when nil.
func (s *Server) Do(t testing.TB, user, method, path string, body any) *Response {
	t.Helper()
	r, err := s.Send(user, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Send is Do for goroutines other than the test's: it returns its error.
func (s *Server) Send(user, method, path string, body any) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading answer of %s %s: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Decode decodes the JSON body into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding answer %s: %v", r.Body, err)
	}
}

// Map returns the JSON body as a map.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.Decode(t, &m)
	return m
}

// Want fails the test unless the status is want.
func (r *Response) Want(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	return r
}

// WantError fails the test unless the answer is an error in the spec's shape
// with the status, code and param (param "" means none).
func (r *Response) WantError(t testing.TB, status int, code, param string) {
	t.Helper()
	r.Want(t, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var env struct {
		Error *apierr.Error `json:"error"`
	}
	r.Decode(t, &env)
	if env.Error == nil {
		t.Fatalf("answer has no error object: %s", r.Body)
	}
	e := env.Error
	if e.Code != code || e.Param != param || e.Message == "" || e.Type != apierr.TypeFor(status) {
		t.Fatalf("error %+v, want code %q param %q type %q and a message", *e, code, param, apierr.TypeFor(status))
	}
}
