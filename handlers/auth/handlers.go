package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Routes of the authentication API.
const (
	PathGuestLogin   = "/llm/auth/guest-login"
	PathRefreshToken = "/llm/auth/refresh-token"
	PathLogout       = "/llm/auth/logout"
	PathMe           = "/llm/auth/me"
	PathAPIKeys      = "/llm/auth/api-keys"
	PathJWKS         = "/.well-known/jwks.json"
)

// refreshCookie is the cookie that carries the refresh token for browser
// clients. Its path keeps it off every request but those of this API.
const (
	refreshCookie     = "refresh_token"
	refreshCookiePath = "/llm/auth"
)

// PublicRoutes are the routes (ServeMux patterns) that need no principal:
// guest login, refresh, logout (which is authorised by the refresh token it
// revokes) and the JWKS. The caller must not reject requests to these
// routes for bad credentials: a client refreshing because its access token
// expired may still send that token. They are part of the API's one list
// of public routes (handlers.IsPublic).
var PublicRoutes = []string{
	"POST " + PathGuestLogin,
	"POST " + PathRefreshToken,
	"GET " + PathLogout, // and HEAD, as every GET pattern
	"POST " + PathLogout,
	"GET " + PathJWKS,
}

// Register adds the routes of the authentication API to mux. Handlers of
// routes that are not public answer 401 unless the request context carries
// a principal (see principal.With); the caller runs Authenticate first.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathGuestLogin, s.handleGuestLogin)
	mux.HandleFunc("POST "+PathRefreshToken, s.handleRefresh)
	mux.HandleFunc("GET "+PathLogout, s.handleLogout)
	mux.HandleFunc("POST "+PathLogout, s.handleLogout)
	mux.HandleFunc("GET "+PathMe, s.handleMe)
	keys := httpx.Routes{Resource: "API key", Logger: s.log, Principal: keyManager}
	mux.HandleFunc("POST "+PathAPIKeys, keys.Handle(s.handleCreateAPIKey))
	mux.HandleFunc("GET "+PathAPIKeys, keys.Handle(s.handleListAPIKeys))
	mux.HandleFunc("DELETE "+PathAPIKeys+"/{id}", keys.Handle(s.handleDeleteAPIKey))
	mux.HandleFunc("GET "+PathJWKS, s.handleJWKS)
	s.registerUpgrade(mux)

	// Without these, ServeMux would answer a wrong method with a plain-text
	// 405; every error of the API is JSON.
	for path, allow := range map[string]string{
		PathGuestLogin:        "POST",
		PathRefreshToken:      "POST",
		PathLogout:            "GET, HEAD, POST",
		PathMe:                "GET, HEAD",
		PathAPIKeys:           "GET, HEAD, POST",
		PathAPIKeys + "/{id}": "DELETE",
		PathJWKS:              "GET, HEAD",
	} {
		mux.HandleFunc(path, methodNotAllowed(allow))
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteMethodNotAllowed(w, r, allow)
	}
}

// tokenResponse is the answer of guest login and refresh.
type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	UserID       string    `json:"user_id"`
	PrincipalID  string    `json:"principal_id"`
	Username     string    `json:"username"`
}

func (s *Service) writeSession(w http.ResponseWriter, r *http.Request, status int, sess session) {
	s.setRefreshCookie(w, r, sess.refreshToken)
	noStore(w)
	httpx.WriteJSON(w, status, tokenResponse{
		AccessToken:  sess.accessToken,
		RefreshToken: sess.refreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(sess.expiresAt.Sub(s.now()).Seconds()),
		ExpiresAt:    sess.expiresAt.UTC(),
		UserID:       sess.user.PublicID,
		PrincipalID:  sess.user.PublicID,
		Username:     sess.user.Username,
	})
}

func (s *Service) handleGuestLogin(w http.ResponseWriter, r *http.Request) {
	sess, err := s.guestLogin(r.Context())
	if err != nil {
		httpx.WriteError(w, r, s.log, err, "")
		return
	}
	s.writeSession(w, r, http.StatusCreated, sess)
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	token, aerr := refreshTokenFrom(w, r)
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	if token == "" {
		apierr.Write(w, errMissingRefreshToken)
		return
	}
	sess, err := s.refreshSession(r.Context(), token)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.clearRefreshCookie(w, r) // it holds a dead token
		}
		httpx.WriteError(w, r, s.log, err, "")
		return
	}
	s.writeSession(w, r, http.StatusOK, sess)
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	var token string
	if r.Method == http.MethodPost {
		var aerr *apierr.Error
		if token, aerr = refreshTokenFrom(w, r); aerr != nil {
			apierr.Write(w, aerr)
			return
		}
	} else {
		// A GET carrying only the cookie may come from any web page (a
		// link or an image: SameSite=Lax sends the cookie along), which
		// would log the user out. GET works only with the token in the
		// Authorization header, which no other site can set; a cookie
		// logs out with POST, which SameSite=Lax keeps same-site.
		var ok bool
		if token, ok = bearerRefreshToken(r); !ok {
			w.Header().Set("Allow", "POST")
			apierr.WriteStatus(w, http.StatusMethodNotAllowed, "method_not_allowed",
				"log out with POST; GET needs the refresh token in Authorization: Bearer")
			return
		}
	}
	if err := s.endSession(r.Context(), token); err != nil {
		httpx.WriteError(w, r, s.log, err, "")
		return
	}
	s.clearRefreshCookie(w, r)
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// refreshTokenFrom returns the refresh token of a request: from the JSON
// body {"refresh_token": …}, else the refresh_token cookie, else an
// Authorization: Bearer credential that is neither a JWT nor an API key. It
// returns "" when there is none.
func refreshTokenFrom(w http.ResponseWriter, r *http.Request) (string, *apierr.Error) {
	if r.Method == http.MethodPost {
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if aerr := httpx.DecodeJSON(w, r, maxBodySize, &body); aerr != nil {
			return "", aerr
		}
		if body.RefreshToken != "" {
			return body.RefreshToken, nil
		}
	}
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value != "" {
		return c.Value, nil
	}
	token, _ := bearerRefreshToken(r)
	return token, nil
}

// bearerRefreshToken returns an Authorization: Bearer credential that is
// neither a JWT nor an API key, and so may be a refresh token.
func bearerRefreshToken(r *http.Request) (string, bool) {
	cred, ok := bearerCredential(r.Header.Get("Authorization"))
	if !ok || strings.Contains(cred, ".") || strings.HasPrefix(cred, apiKeyPrefix) {
		return "", false
	}
	return cred, true
}

func (s *Service) setRefreshCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     refreshCookie,
		Value:    token,
		Path:     refreshCookiePath,
		MaxAge:   int(s.cfg.RefreshTTL / time.Second),
		HttpOnly: true,
		Secure:   s.cfg.SecureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Service) clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     refreshCookie,
		Path:     refreshCookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.cfg.SecureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// meResponse is the answer of /llm/auth/me.
type meResponse struct {
	ID          string `json:"id"`
	UserID      string `json:"user_id"`
	PrincipalID string `json:"principal_id"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	Name        string `json:"name"`
	Subject     string `json:"subject"`
	Kind        string `json:"kind"`
	AuthMethod  string `json:"auth_method"`
	Issuer      string `json:"issuer"`
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	p := principal.From(r.Context())
	if p == nil {
		apierr.Write(w, MissingCredentials())
		return
	}
	u, err := s.st.GetUser(r.Context(), p.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apierr.Write(w, errInvalidToken) // the principal's user is gone
			return
		}
		apierr.Write(w, storeFailure(s.log, "reading the current user", err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, meResponse{
		ID:          u.PublicID,
		UserID:      u.PublicID,
		PrincipalID: u.PublicID,
		Username:    u.Username,
		Email:       u.Email,
		Name:        u.Name,
		Subject:     u.Subject,
		Kind:        p.Kind,
		AuthMethod:  p.Method,
		Issuer:      u.Issuer,
	})
}

func (s *Service) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	doc := s.keys.jwks()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Short, because a new key signs at once; verifiers refetch on an
	// unknown key id anyway.
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
