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
	if res.RefreshTokens > 0 || res.Guests > 0 {
		s.log.Info("retention: deleted expired refresh tokens and idle guests",
			zap.Int64("refresh_tokens", res.RefreshTokens), zap.Int64("guests", res.Guests))
	}
	return nil
}
