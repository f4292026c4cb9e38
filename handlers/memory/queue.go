package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/memory/memprompt"
	"github.com/caddy-llm/gateway/store"
)

// Delivery of observations.
const (
	// DefaultSweepInterval is how often the store is searched for turns
	// nobody is observing (left by a restart, a reload, a full queue or a
	// worker that died).
	DefaultSweepInterval = 30 * time.Second
	// DefaultClaimLease is how long a worker holds a turn it observes;
	// past it, another worker may take the turn again.
	DefaultClaimLease = 10 * time.Minute
	// pendingRetention is how old a turn waiting to be observed may grow
	// before it is purged unobserved.
	pendingRetention = 24 * time.Hour
	// maxDeliveries is how often a turn is claimed before it is given up:
	// a turn whose workers keep dying with it is not retried for ever.
	maxDeliveries = 3
	// maxPendingPerUser is how many of one user's turns may wait to be
	// observed; the user's further turns are not observed until the
	// workers catch up. A client flooding turns (each an extraction call)
	// then neither grows the table without end nor makes every other
	// user's turns wait behind its backlog.
	maxPendingPerUser = 32
)

// job is a turn for a worker: its pending record in the store (0 when it
// could not be stored), and whether this worker holds its claim already.
type job struct {
	o         conversation.Observation
	pendingID int64
	claimed   bool
}

// Observe implements conversation.Memory: it hands the turn to the
// service's background goroutines and returns at once; observation never
// slows a chat down. Only while the intake queue (QueueSize) is full is a
// turn dropped, with a warning.
//
// Delivery is at least once: a background goroutine stores each turn as a
// pending observation (store.PendingObservation) before a worker claims and
// observes it, and deletes it once observed or given up; a sweep claims the
// turns nobody holds (those of a process that stopped or a config that was
// reloaded, and those a full work queue left) every SweepInterval. A turn
// is lost only if the process stops in the moment between the turn's end
// and its record (or while the database is unreachable then), and a turn
// observed twice (a worker died after storing its facts) only refreshes
// them: near-duplicates replace each other.
func (s *Service) Observe(o conversation.Observation) {
	if !s.Enabled() || s.cfg.ExtractModel == "" || !s.served(s.cfg.ExtractModel) || !s.served(s.cfg.EmbedModel) || s.resting() {
		return // memory is off, its models are not served now (their providers are off), or it rests
	}
	o.User, o.Assistant = memprompt.TranscriptPart(o.User), memprompt.TranscriptPart(o.Assistant)
	select {
	case s.intake <- o:
	default:
		s.warner.warn("memory observation queue is full; a turn is not observed", zap.Int("queue_size", s.cfg.QueueSize))
	}
}

// Run records, sweeps and observes turns until ctx is done. The llm app
// runs it for the life of its config.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.record(ctx) })
	wg.Go(func() { s.sweep(ctx) })
	for range s.cfg.Workers {
		wg.Go(func() { s.observeQueued(ctx) })
	}
	wg.Wait()
}

// record stores each turn of the intake as pending and passes it on to
// the workers; when their queue is full the turn waits in the store for a
// sweep.
func (s *Service) record(ctx context.Context) {
	for {
		var o conversation.Observation
		select {
		case <-ctx.Done():
			return
		case o = <-s.intake:
		}
		j := job{o: o}
		p, err := s.cfg.Store.AddPendingObservation(ctx, store.PendingObservation{
			UserID: o.UserID, ConversationPublicID: o.ConversationPublicID, ProjectPublicID: o.ProjectPublicID,
			UserText: o.User, AssistantText: o.Assistant,
		}, maxPendingPerUser)
		if errors.Is(err, store.ErrLimitReached) {
			s.warner.warn("a user has too many turns waiting to be observed; a turn is not observed",
				zap.Int("max_pending_per_user", maxPendingPerUser))
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.warner.warn("recording a turn to observe failed; observing it from memory only", zap.Error(err))
		} else {
			j.pendingID = p.ID
		}
		select {
		case s.work <- j:
		default:
			if j.pendingID == 0 {
				s.warner.warn("memory work queue is full; a turn is not observed", zap.Int("queue_size", s.cfg.QueueSize))
			}
			// Else it waits in the store for a sweep.
		}
	}
}

// sweep claims the turns nobody holds, at once and every SweepInterval,
// as many as the work queue has room for, and purges those too old.
func (s *Service) sweep(ctx context.Context) {
	ticker := time.NewTicker(s.cfg.SweepInterval)
	defer ticker.Stop()
	for {
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (s *Service) sweepOnce(ctx context.Context) {
	now := time.Now()
	if _, err := s.cfg.Store.PurgePendingObservations(ctx, now.Add(-pendingRetention)); err != nil && ctx.Err() == nil {
		s.warner.warn("purging old turns to observe failed", zap.Error(err))
	}
	room := cap(s.work) - len(s.work)
	if room <= 0 {
		return
	}
	claimed, err := s.cfg.Store.ClaimPendingObservations(ctx, now, now.Add(s.cfg.ClaimLease), room)
	if err != nil {
		if ctx.Err() == nil {
			s.warner.warn("claiming turns to observe failed", zap.Error(err))
		}
		return
	}
	for _, p := range claimed {
		if p.Attempts > maxDeliveries {
			s.warner.warn("memory observation gave up on a turn: its workers stopped each time", zap.Int("deliveries", p.Attempts-1))
			s.forget(p.ID)
			continue
		}
		j := job{pendingID: p.ID, claimed: true, o: conversation.Observation{
			UserID: p.UserID, ConversationPublicID: p.ConversationPublicID, ProjectPublicID: p.ProjectPublicID,
			User: p.UserText, Assistant: p.AssistantText,
		}}
		select {
		case <-ctx.Done():
			return
		case s.work <- j:
		}
	}
}

// observeQueued observes the turns of the work queue: it claims a turn unless it
// came claimed, and deletes its record once observed or given up. A turn
// whose observation ctx cut short keeps its record, for another worker
// once the claim expires.
func (s *Service) observeQueued(ctx context.Context) {
	for {
		var j job
		select {
		case <-ctx.Done():
			return
		case j = <-s.work:
		}
		if j.pendingID != 0 && !j.claimed {
			now := time.Now()
			ok, err := s.cfg.Store.ClaimPendingObservation(ctx, j.pendingID, now, now.Add(s.cfg.ClaimLease))
			if err != nil || !ok {
				continue // another worker holds it, or a sweep will
			}
		}
		if !s.stillObserving(ctx, j.o.UserID) {
			if j.pendingID != 0 {
				s.forget(j.pendingID)
			}
			continue
		}
		if s.observe(ctx, j.o) && j.pendingID != 0 {
			s.forget(j.pendingID)
		}
	}
}

// forget deletes a turn's pending record.
func (s *Service) forget(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Store.DeletePendingObservation(ctx, id); err != nil {
		s.warner.warn("deleting an observed turn's record failed; it may be observed again", zap.Error(err))
	}
}

// stillObserving reports whether the user's settings still ask for
// observation: a user who turned memory or observation off since the turn
// expects nothing more to be learnt. A settings read that fails counts as
// yes: the turn was observed by the settings of its time.
func (s *Service) stillObserving(ctx context.Context, userID int64) bool {
	st, err := conversation.LoadSettings(ctx, s.cfg.Store, userID)
	if err != nil {
		return true
	}
	return st.MemoryConfig.Enabled && st.MemoryConfig.ObserveEnabled
}
