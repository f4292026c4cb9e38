package auth

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/store"
)

// Errors returned by Authenticate and written by the handlers. They are
// shared values so that rejecting a bad credential allocates nothing; never
// modify them. Their messages never contain the credential.
var (
	errMissingCredentials = apierr.New(http.StatusUnauthorized, "missing_credentials",
		"authentication required: send Authorization: Bearer <token> or X-API-Key: sk_…")
	errBadAuthScheme = apierr.New(http.StatusUnauthorized, "invalid_token",
		"the Authorization header must use the Bearer scheme")
	errInvalidToken = apierr.New(http.StatusUnauthorized, "invalid_token",
		"the access token is invalid")
	errTokenTooLarge = apierr.New(http.StatusUnauthorized, "invalid_token",
		"the access token is too large")
	errUnknownIssuer = apierr.New(http.StatusUnauthorized, "invalid_token",
		"the access token's issuer is not accepted")
	errTokenExpired = apierr.New(http.StatusUnauthorized, "token_expired",
		"the access token has expired")
	errInvalidAPIKey = apierr.New(http.StatusUnauthorized, "invalid_api_key",
		"the API key is invalid or has been revoked")
	errAPIKeyExpired = apierr.New(http.StatusUnauthorized, "api_key_expired",
		"the API key has expired")

	errMissingRefreshToken = apierr.Invalid("refresh_token", "missing_refresh_token",
		"a refresh token is required (JSON body, refresh_token cookie or Authorization: Bearer)")
	errInvalidRefreshToken = apierr.New(http.StatusUnauthorized, "invalid_refresh_token",
		"the refresh token is invalid")
	errRefreshTokenExpired = apierr.New(http.StatusUnauthorized, "refresh_token_expired",
		"the refresh token has expired")
	errRefreshTokenReused = apierr.New(http.StatusUnauthorized, "refresh_token_reused",
		"the refresh token was already used; the session has been revoked, log in again")

	errGuestCannotCreateKeys = apierr.New(http.StatusForbidden, "guest_not_allowed",
		"guest users cannot create API keys; sign in with an account to create one")
	errKeyCannotManageKeys = apierr.New(http.StatusForbidden, "api_key_not_allowed",
		"API keys cannot list, create or revoke API keys; sign in and use the session's access token")

	errOIDCUnavailable = apierr.New(http.StatusServiceUnavailable, "oidc_unavailable",
		"the identity provider's keys could not be fetched yet, retry shortly")
	errUnavailable = apierr.New(http.StatusServiceUnavailable, "database_unavailable",
		"the database is unavailable, retry shortly")
	errInternal = apierr.New(http.StatusInternalServerError, "internal_error",
		"internal error")
)

// MissingCredentials returns the 401 to answer a request that carries no
// credentials on a route that needs a principal.
func MissingCredentials() *apierr.Error {
	c := *errMissingCredentials
	return &c
}

// storeFailure logs a store failure and returns the client's error. An
// unavailable store is an outage the operator learns of from readiness and
// metrics; it is logged as a warning, not as an error per request.
func storeFailure(log *zap.Logger, what string, err error) *apierr.Error {
	e := storeError(err)
	if e == errUnavailable {
		log.Warn(what, zap.Error(err))
	} else {
		log.Error(what, zap.Error(err))
	}
	return e
}

// storeError maps a store failure to the error clients see: 503 when the
// store could not answer, 500 otherwise. Details stay in the logs.
func storeError(err error) *apierr.Error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return errUnavailable
	}
	return errInternal
}
