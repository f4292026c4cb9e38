package auth

import (
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// PathUpgrade is where a guest signs in with an OIDC account and keeps its
// data (Jan's POST /auth/upgrade; the gateway's auth routes live under
// /llm/auth).
const PathUpgrade = "/llm/auth/upgrade"

// Errors of the upgrade.
var (
	errUpgradeNotGuest = apierr.New(http.StatusConflict, "not_a_guest",
		"only a guest session can be upgraded: send the guest's access token as Authorization: Bearer")
	errUpgradeNoOIDC = apierr.Invalid("oidc_token", "oidc_not_configured",
		"no OIDC provider is configured, so there is no account to upgrade into")
	errUpgradeMissingToken = apierr.Invalid("oidc_token", "missing_required_parameter",
		"missing required parameter: oidc_token (the OIDC access token of the account to sign in to)")
	errUpgradeBadToken = apierr.Invalid("oidc_token", "invalid_oidc_token",
		"oidc_token is not a valid access token of the configured OIDC provider")
	errUpgradeExpiredToken = apierr.Invalid("oidc_token", "oidc_token_expired",
		"oidc_token has expired")
)

// upgradeRequest is the body of POST /llm/auth/upgrade.
type upgradeRequest struct {
	// OIDCToken is an access token of the configured OIDC provider for
	// the account the guest signs in to.
	OIDCToken string `json:"oidc_token"`
}

// upgradeResponse is its answer.
type upgradeResponse struct {
	Status  string       `json:"status"` // always "upgraded"
	UserID  string       `json:"user_id"`
	GuestID string       `json:"guest_id"`
	Moved   upgradeMoved `json:"moved"`
}

type upgradeMoved struct {
	Conversations   int  `json:"conversations"`
	Projects        int  `json:"projects"`
	RenamedProjects int  `json:"renamed_projects"`
	Settings        bool `json:"settings"`
}

// registerUpgrade adds the upgrade route to mux.
func (s *Service) registerUpgrade(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathUpgrade, s.handleUpgrade)
	mux.HandleFunc(PathUpgrade, methodNotAllowed("POST"))
}

// handleUpgrade moves a guest's conversations, projects and settings to the
// account of an OIDC access token: the request is authenticated as the
// guest (its access token as the Bearer, as on every route), and the body
// names the account ({"oidc_token": "…"}), which is verified exactly as an
// OIDC bearer token would be (issuer, audience, signature, expiry). The
// account's user is created on first sight, as on its first request.
// store.GuestMerge documents what moves; calling again with the same guest
// token moves what the guest created since (usually nothing) and answers
// the same way. Afterwards the client uses the OIDC token: the guest's
// refresh tokens are revoked, and its access token lives out its short TTL.
func (s *Service) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	p := principal.From(r.Context())
	if p == nil {
		apierr.Write(w, MissingCredentials())
		return
	}
	if p.Kind != principal.KindGuest || p.Method != principal.MethodJWT {
		apierr.Write(w, errUpgradeNotGuest)
		return
	}
	var req upgradeRequest
	if aerr := httpx.DecodeJSON(w, r, maxBodySize, &req); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	raw := strings.TrimSpace(req.OIDCToken)
	if raw == "" {
		apierr.Write(w, errUpgradeMissingToken)
		return
	}
	if s.oidc == nil {
		apierr.Write(w, errUpgradeNoOIDC)
		return
	}
	// Only the OIDC provider's tokens name an account: a gateway token
	// (another guest's, say) is refused before anything is verified.
	if iss, ok := unverifiedIssuer(raw); !ok || iss != s.oidc.cfg.Issuer || len(raw) > maxTokenLen {
		apierr.Write(w, errUpgradeBadToken)
		return
	}
	v, err := s.oidc.verify(r.Context(), raw)
	if err != nil {
		var ae *apierr.Error
		switch {
		case errors.Is(err, errTokenExpired):
			apierr.Write(w, errUpgradeExpiredToken)
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			apierr.Write(w, errUpgradeBadToken)
		default:
			httpx.WriteError(w, r, s.log, err, "")
		}
		return
	}
	res, err := s.st.MergeGuest(r.Context(), p.UserID, v.principal.UserID, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		apierr.Write(w, errInvalidToken) // the guest is gone
		return
	case errors.Is(err, store.ErrConflict):
		apierr.Write(w, errUpgradeNotGuest)
		return
	case err != nil:
		s.log.Error("upgrading a guest", zap.Error(err))
		apierr.Write(w, storeError(err))
		return
	}
	s.log.Info("guest upgraded",
		zap.String("guest_id", p.UserPublicID), zap.String("user_id", v.principal.UserPublicID),
		zap.Int("conversations", res.Conversations), zap.Int("projects", res.Projects))
	httpx.WriteJSON(w, http.StatusOK, upgradeResponse{
		Status:  "upgraded",
		UserID:  v.principal.UserPublicID,
		GuestID: p.UserPublicID,
		Moved: upgradeMoved{
			Conversations:   res.Conversations,
			Projects:        res.Projects,
			RenamedProjects: res.RenamedProjects,
			Settings:        res.Settings,
		},
	})
}
