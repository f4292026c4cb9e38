package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/memory/memprompt"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// extractMaxTokens bounds the extraction model's answer.
const extractMaxTokens = 400

// observe learns from one turn: extraction, embedding, then adding or
// replacing items. Upstream calls are retried; a turn whose calls keep
// failing is given up and logged. It reports false when ctx ended first:
// the turn is then to be observed again (by the next worker to claim it).
func (s *Service) observe(ctx context.Context, o conversation.Observation) (done bool) {
	defer func() { done = done && ctx.Err() == nil }()
	ext, err := retry(ctx, s, func(ctx context.Context) (memprompt.Extraction, error) { return s.extract(ctx, o) })
	if err != nil {
		s.giveUp(ctx, "extracting facts", err)
		return true
	}
	type learnt struct{ kind, text string }
	var items []learnt
	for _, f := range ext.User {
		items = append(items, learnt{store.MemoryKindUser, f})
	}
	if o.ProjectPublicID != "" {
		for _, f := range ext.Project {
			items = append(items, learnt{store.MemoryKindProject, f})
		}
	}
	if ext.Summary != "" {
		items = append(items, learnt{store.MemoryKindEpisodic, ext.Summary})
	}
	if len(items) == 0 {
		return true
	}
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.text
	}
	vecs, err := retry(ctx, s, func(ctx context.Context) ([][]float32, error) { return s.embed(ctx, texts) })
	if err != nil {
		s.giveUp(ctx, "embedding facts", err)
		return true
	}
	for i, it := range items {
		rec := store.MemoryItem{
			UserID: o.UserID, Kind: it.kind, Text: it.text, Source: store.MemorySourceObserved,
			ConversationPublicID: o.ConversationPublicID, Embedding: vecs[i], EmbeddingModel: s.cfg.EmbedModel,
		}
		if it.kind == store.MemoryKindProject {
			rec.ProjectPublicID = o.ProjectPublicID
		}
		if err := s.remember(ctx, rec); err != nil {
			if ctx.Err() == nil {
				s.warner.warn("storing a memory item failed", zap.String("kind", it.kind), zap.Error(err))
			}
			return true
		}
	}
	return true
}

// remember stores an item, or replaces the user's item of the same kind
// (and project) that is nearly the same (cosine at or above
// DuplicateSimilarity): the newer wording wins.
func (s *Service) remember(ctx context.Context, it store.MemoryItem) error {
	set, err := s.cache.get(ctx, it.UserID)
	if err != nil {
		return err
	}
	var dup *cachedItem
	bestSim := s.cfg.DuplicateSimilarity
	for i := range set.items {
		c := &set.items[i]
		if c.kind != it.Kind || c.project != it.ProjectPublicID || c.model != it.EmbeddingModel {
			continue
		}
		if sim := cosine(c.vector, it.Embedding); sim >= bestSim {
			dup, bestSim = c, sim
		}
	}
	if dup != nil {
		_, err = s.cfg.Store.UpdateMemoryItem(ctx, it.UserID, dup.publicID,
			store.MemoryPatch{Text: &it.Text, Embedding: it.Embedding, EmbeddingModel: &it.EmbeddingModel}, time.Now())
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Deleted meanwhile: store it as new.
	}
	_, err = s.cfg.Store.CreateMemoryItem(ctx, it, s.cfg.MaxItemsPerUser)
	if errors.Is(err, store.ErrLimitReached) {
		s.logger.Debug("memory is full; a fact is not stored", zap.String("kind", it.Kind))
		return nil
	}
	return err
}

// extract asks the extraction model for the turn's facts.
func (s *Service) extract(ctx context.Context, o conversation.Observation) (memprompt.Extraction, error) {
	model, ok := s.cfg.Router.Model(s.cfg.ExtractModel)
	if !ok {
		return memprompt.Extraction{}, fmt.Errorf("extraction model %q is not served", s.cfg.ExtractModel)
	}
	maxTokens := extractMaxTokens
	if model.MaxOutputTokens > 0 {
		maxTokens = min(maxTokens, model.MaxOutputTokens)
	}
	body, err := json.Marshal(map[string]any{
		"model": model.ID,
		"messages": []map[string]string{
			{"role": "system", "content": memprompt.SystemPrompt},
			{"role": "user", "content": memprompt.Transcript(o.User, o.Assistant, o.ProjectPublicID != "")},
		},
		"max_tokens":  maxTokens,
		"temperature": 0,
	})
	if err != nil {
		return memprompt.Extraction{}, err
	}
	chat, aerr := openai.ParseChatRequest(body)
	if aerr != nil {
		return memprompt.Extraction{}, fmt.Errorf("building the extraction request: %s", aerr.Message)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ExtractTimeout)
	defer cancel()
	c, _, err := s.cfg.Router.ChatCompletion(ctx, &provider.Request{Body: body, Chat: chat, Model: model})
	if err != nil {
		return memprompt.Extraction{}, err
	}
	answer := gjson.GetBytes(c.Body, "choices.0.message.content").String()
	return memprompt.Parse(answer), nil
}

// retry runs call up to the service's Attempts times, pausing RetryBackoff
// (doubling) between attempts, while its error is one another attempt may
// cure.
func retry[T any](ctx context.Context, s *Service, call func(context.Context) (T, error)) (T, error) {
	wait := s.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		v, err := call(ctx)
		if err == nil || attempt >= s.cfg.Attempts || !retryable(ctx, err) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

func retryable(ctx context.Context, err error) bool {
	if errors.Is(err, errNoEmbedModel) || ctx.Err() != nil {
		return false
	}
	var perr *provider.Error
	if errors.As(err, &perr) {
		return perr.Retryable()
	}
	return true
}

// giveUp logs a turn that could not be observed. Nothing of the turn's
// content is logged.
func (s *Service) giveUp(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return // shutting down
	}
	fields := []zap.Field{zap.Int("attempts", s.cfg.Attempts), zap.Error(err)}
	var perr *provider.Error
	if errors.As(err, &perr) {
		fields = append(fields, zap.String("kind", perr.Kind.String()), zap.Int("upstream_status", perr.Status))
	}
	s.warner.warn("memory observation gave up on a turn: "+what+" failed", fields...)
}
