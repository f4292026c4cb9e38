package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/store"
)

// MemoryIntro opens the memory system message. Its exact wording, one
// section per kind that has items (in this order), one line per item:
//
//	What you remember about the user from earlier conversations. Use it when it is relevant; do not mention it otherwise.
//	About the user:
//	- <fact>
//	About this project:
//	- <fact>
//	From earlier conversations:
//	- <summary>
const MemoryIntro = "What you remember about the user from earlier conversations. Use it when it is relevant; do not mention it otherwise."

// Section headings of the memory message.
const (
	headingUser     = "About the user:"
	headingProject  = "About this project:"
	headingEpisodic = "From earlier conversations:"
)

// Recall implements conversation.Memory: it embeds the new message, ranks
// the user's items by cosine, keeps per kind (when its inject_* flag is on)
// at most max_*_items whose cosine is at least min_similarity, and writes
// them as one system message within the token budget. Project facts are
// those of the conversation's project; episodic items of the conversation
// itself are left out (the client sends its history anyway). Failures are
// logged and recall nothing.
func (s *Service) Recall(ctx context.Context, q conversation.RecallQuery) string {
	c := q.Config
	want := wanted{
		user:     kindWanted(c.InjectUserCore, c.MaxUserItems),
		project:  kindWanted(c.InjectSemantic && q.ProjectPublicID != "", c.MaxProjectItems),
		episodic: kindWanted(c.InjectEpisodic, c.MaxEpisodicItems),
	}
	if !s.Enabled() || (want.user == 0 && want.project == 0 && want.episodic == 0) || !s.served(s.cfg.EmbedModel) || s.resting() {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RecallTimeout)
	defer cancel()
	set, err := s.cache.get(ctx, q.UserID)
	if err != nil {
		s.warner.warn("reading memory items failed; answering without memory", zap.Error(err))
		return ""
	}
	if len(set.items) == 0 {
		return "" // nothing to recall: no embedding call either
	}
	vecs, err := s.embed(ctx, []string{recallText(q.Text)})
	if err != nil {
		if errors.Is(err, errNoEmbedModel) || ctx.Err() != nil && errors.Is(err, context.Canceled) {
			s.logger.Debug("memory recall skipped", zap.Error(err))
		} else {
			s.warner.warn("embedding a message for memory failed; answering without memory", zap.Error(err))
		}
		return ""
	}
	picked := s.rank(set, vecs[0], q, want)
	return s.message(picked)
}

// maxRecallTextBytes bounds the part of a message a recall embeds: its
// opening says what it is about, and every embedding model takes this
// much (a refused, over-long input would make memory rest for everyone).
const maxRecallTextBytes = 4000

// recallText returns the start of text a recall embeds, cut at a
// character boundary.
func recallText(text string) string {
	if len(text) <= maxRecallTextBytes {
		return text
	}
	cut := maxRecallTextBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

// wanted is how many items of each kind a recall keeps.
type wanted struct{ user, project, episodic int }

func kindWanted(inject bool, max int) int {
	if !inject || max <= 0 {
		return 0
	}
	return max
}

// scored is an item with its cosine to the message.
type scored struct {
	item  *cachedItem
	score float64
}

// picked are a recall's items per kind, best first.
type picked struct{ user, project, episodic []scored }

// rank scores every eligible item of the set against the message's vector
// and keeps the best of each kind.
func (s *Service) rank(set *userVectors, qv []float32, q conversation.RecallQuery, want wanted) picked {
	var out picked
	minSim := q.Config.MinSimilarity
	for i := range set.items {
		it := &set.items[i]
		if it.model != s.cfg.EmbedModel || len(it.vector) != len(qv) {
			continue
		}
		var bucket *[]scored
		switch {
		case it.kind == store.MemoryKindUser && want.user > 0:
			bucket = &out.user
		case it.kind == store.MemoryKindProject && want.project > 0 && it.project == q.ProjectPublicID:
			bucket = &out.project
		case it.kind == store.MemoryKindEpisodic && want.episodic > 0 && it.conversation != q.ConversationPublicID:
			bucket = &out.episodic
		default:
			continue
		}
		if sim := cosine(qv, it.vector); sim >= minSim {
			*bucket = append(*bucket, scored{item: it, score: sim})
		}
	}
	out.user = best(out.user, want.user)
	out.project = best(out.project, want.project)
	out.episodic = best(out.episodic, want.episodic)
	return out
}

// best returns the n items with the highest scores, highest first (newer
// items first among equal scores).
func best(items []scored, n int) []scored {
	slices.SortStableFunc(items, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmp.Compare(b.item.id, a.item.id)
	})
	return items[:min(n, len(items))]
}

// message writes the memory system message of the picked items, adding
// items while the message stays within the token budget. "" when nothing
// was picked.
func (s *Service) message(p picked) string {
	if len(p.user)+len(p.project)+len(p.episodic) == 0 {
		return ""
	}
	budget := s.cfg.TokenBudget * 4 // characters
	var b strings.Builder
	b.WriteString(MemoryIntro)
	added := 0
	section := func(heading string, items []scored) {
		wrote := false
		for _, it := range items {
			line := "\n- " + it.item.text
			need := len(line)
			if !wrote {
				need += 1 + len(heading)
			}
			if b.Len()+need > budget {
				return
			}
			if !wrote {
				b.WriteString("\n" + heading)
				wrote = true
			}
			b.WriteString(line)
			added++
		}
	}
	section(headingUser, p.user)
	section(headingProject, p.project)
	section(headingEpisodic, p.episodic)
	if added == 0 {
		return ""
	}
	return b.String()
}

// cachedItem is what retrieval keeps of an item.
type cachedItem struct {
	id           int64
	publicID     string
	kind         string
	text         string
	project      string
	conversation string
	model        string
	vector       []float32
}

// userVectors is the cached set of one user's items.
type userVectors struct {
	stamp store.MemoryStamp
	items []cachedItem
	bytes int // what the set weighs in memory, roughly
}

// vectorCache keeps the items of recently active users, so that a recall
// reads one small stamp from the store rather than every vector. A stamp
// that changed (an item added, updated or deleted, by any replica) reloads
// the set. It keeps at most maxUsers users and maxBytes of vectors and
// texts: a set that does not fit evicts others (any: Go's map order is
// random), and one larger than maxBytes alone is used but not kept. A set
// holds the user's newest maxItems items: a user holding more (guests'
// items merged into the account) costs a recall no more than the cap.
type vectorCache struct {
	st       store.MemoryStore
	maxUsers int
	maxBytes int
	maxItems int

	mu    sync.Mutex
	users map[int64]*userVectors
	bytes int
}

func newVectorCache(st store.MemoryStore, maxUsers, maxBytes, maxItems int) *vectorCache {
	return &vectorCache{st: st, maxUsers: maxUsers, maxBytes: maxBytes, maxItems: maxItems, users: make(map[int64]*userVectors)}
}

// get returns the user's current set.
func (c *vectorCache) get(ctx context.Context, userID int64) (*userVectors, error) {
	stamp, err := c.st.MemoryStamp(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	set, ok := c.users[userID]
	c.mu.Unlock()
	if ok && set.stamp == stamp {
		return set, nil
	}
	if stamp.Count == 0 {
		c.forget(userID)
		return &userVectors{stamp: stamp}, nil
	}
	items, err := c.st.MemoryVectors(ctx, userID, c.maxItems)
	if err != nil {
		return nil, err
	}
	set = &userVectors{stamp: stamp, items: make([]cachedItem, 0, len(items))}
	for _, it := range items {
		if len(it.Embedding) == 0 {
			continue
		}
		normalize(it.Embedding)
		set.items = append(set.items, cachedItem{
			id: it.ID, publicID: it.PublicID, kind: it.Kind, text: it.Text, project: it.ProjectPublicID,
			conversation: it.ConversationPublicID, model: it.EmbeddingModel, vector: it.Embedding,
		})
		set.bytes += 4*len(it.Embedding) + len(it.Text) + len(it.PublicID) + len(it.ProjectPublicID) + len(it.ConversationPublicID) + 96
	}
	c.keep(userID, set)
	return set, nil
}

// keep caches the user's set, evicting others to make room.
func (c *vectorCache) keep(userID int64, set *userVectors) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(userID)
	if set.bytes > c.maxBytes {
		return
	}
	for id := range c.users {
		if len(c.users) < c.maxUsers && c.bytes+set.bytes <= c.maxBytes {
			break
		}
		c.dropLocked(id)
	}
	c.users[userID] = set
	c.bytes += set.bytes
}

// forget drops the user's set.
func (c *vectorCache) forget(userID int64) {
	c.mu.Lock()
	c.dropLocked(userID)
	c.mu.Unlock()
}

func (c *vectorCache) dropLocked(userID int64) {
	if old, ok := c.users[userID]; ok {
		c.bytes -= old.bytes
		delete(c.users, userID)
	}
}
