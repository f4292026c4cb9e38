package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Bounds of the in-memory caches of verified access tokens and users.
const (
	tokenCacheSize = 100_000
	userCacheSize  = 100_000
)

// Service authenticates requests and serves the authentication API. It is
// safe for concurrent use.
type Service struct {
	st  store.Store
	cfg Config
	log *zap.Logger
	now func() time.Time

	keys          *keyring
	gatewayParser *jwt.Parser
	oidc          *oidcVerifier // nil when OIDC is off
	apiKeys       *apiKeyVerifier

	// tokens caches verified access tokens by their SHA-256 until they
	// expire, so that each token is verified once per replica.
	tokens *ttlCache[[sha256.Size]byte, *principal.Principal]
	// gatewayUsers caches the users that gateway tokens name, by public id.
	gatewayUsers *ttlCache[string, *principal.Principal]

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	flushErr  error // of the final last-use flush, reported by Close
}

// New returns a Service that keeps its state in st. It loads the gateway's
// signing keys from st, creating the first one if there is none, and starts
// background work (key rotation, revocation polling, last-use flushing, OIDC
// key refresh) that stops when ctx is done or Close is called.
func New(ctx context.Context, st store.Store, cfg Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("auth: a store is required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("auth: invalid config: %w", err)
	}
	log := cfg.Logger
	s := &Service{
		st:            st,
		cfg:           cfg,
		log:           log,
		now:           cfg.Now,
		keys:          newKeyring(st, cfg, log),
		gatewayParser: newGatewayParser(cfg),
		apiKeys:       newAPIKeyVerifier(st, cfg, log),
		tokens:        newTTLCache[[sha256.Size]byte, *principal.Principal](tokenCacheSize),
		gatewayUsers:  newTTLCache[string, *principal.Principal](userCacheSize),
	}
	if cfg.OIDC != nil {
		s.oidc = newOIDCVerifier(cfg.OIDC, st, cfg.HTTPClient, log, cfg.Now)
	} else {
		log.Info("OIDC access tokens are off; only gateway tokens and API keys are accepted")
	}
	if err := s.keys.maintain(ctx); err != nil {
		if !errors.Is(err, store.ErrUnavailable) {
			return nil, fmt.Errorf("auth: loading signing keys: %w", err)
		}
		// The database may start after the gateway: start anyway. Guest
		// login and refresh answer 503 until the keys can be loaded,
		// which they try again on demand and in the background.
		log.Warn("signing keys not loaded yet: the store is unavailable", zap.Error(err))
	}

	ctx, s.cancel = context.WithCancel(ctx)
	s.every(ctx, keyCheckInterval(cfg.KeyRotation), "maintaining signing keys", s.keys.maintain)
	s.every(ctx, cfg.RevocationPoll, "polling revoked API keys", s.apiKeys.pollRevoked)
	s.every(ctx, cfg.RetentionInterval, "applying retention rules", s.purge)
	s.wg.Add(1)
	go s.flushLoop(ctx)
	if s.oidc != nil {
		s.wg.Add(1)
		go func() { // first fetch in the background: a provider that is down must not keep the gateway from starting
			defer s.wg.Done()
			_ = s.oidc.keys.fetch.refresh(ctx, time.Now(), false)
		}()
		s.every(ctx, cfg.OIDC.RefreshInterval, "refreshing OIDC keys", func(ctx context.Context) error {
			_ = s.oidc.keys.fetch.refresh(ctx, time.Now(), true) // failures are logged by the fetch
			return nil
		})
	}
	return s, nil
}

// Close stops the background work, writes the API key last-use times not
// written yet, and reports an error from that last write. In-flight calls
// of Authenticate keep working. Close is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return s.flushErr
}

// keyCheckInterval is how often the signing keys are reloaded and checked
// for rotation: often enough to rotate on time, never more than once a
// second nor less than once a minute.
func keyCheckInterval(rotation time.Duration) time.Duration {
	return min(max(rotation/10, time.Second), time.Minute)
}

// every runs fn every interval until ctx is done. A failing fn is logged and
// tried again at the next tick.
func (s *Service) every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn(what, zap.Error(err))
				}
			}
		}
	}()
}

// flushLoop writes API key last-use times every TouchInterval, and once more
// when the service stops.
func (s *Service) flushLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TouchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flushErr = s.apiKeys.flushTouches(fctx)
			cancel()
			if s.flushErr != nil {
				s.log.Warn("writing API key last-use times at shutdown", zap.Error(s.flushErr))
				s.flushErr = fmt.Errorf("writing API key last-use times: %w", s.flushErr)
			}
			return
		case <-t.C:
			if err := s.apiKeys.flushTouches(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("writing API key last-use times", zap.Error(err))
			}
		}
	}
}
