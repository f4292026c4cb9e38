package auth

import (
	"context"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/store"
)

// purge deletes refresh tokens past their retention and guests idle for
// longer than theirs (DESIGN §14: what grows per user has a retention rule,
// run by one replica at a time; the store provides the exclusion).
func (s *Service) purge(ctx context.Context) error {
	now := s.now()
	res, err := s.st.Purge(ctx, store.RetentionPolicy{
		TokensExpiredBefore: now.Add(-s.cfg.RefreshTokenRetention),
		GuestsIdleSince:     now.Add(-s.cfg.GuestRetention),
	})
	if err != nil {
		return err
	}
	// Stored responses of the Responses API are kept as OpenAI keeps them.
	responses, err := s.st.PurgeResponses(ctx, now.Add(-store.ResponseRetention), 0)
	if err != nil {
		return err
	}
	if responses > 0 {
		s.log.Info("retention: deleted old stored responses", zap.Int64("responses", responses))
	}
	if res.RefreshTokens > 0 || res.Guests > 0 {
		s.log.Info("retention: deleted expired refresh tokens and idle guests",
			zap.Int64("refresh_tokens", res.RefreshTokens), zap.Int64("guests", res.Guests))
	}
	return nil
}
