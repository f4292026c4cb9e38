package auth

import (
	"context"
	"sync"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// countingStore wraps a store and counts the calls of every method, and
// separately the calls made on behalf of a request marked with
// markRequest: background work (revocation polls, key reloads, flushes)
// runs on other contexts and is not counted there.
type countingStore struct {
	store.Store

	mu        sync.Mutex
	calls     map[string]int
	onRequest map[string]int
}

type requestMarker struct{}

// markRequest marks ctx as a request's context.
func markRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestMarker{}, true)
}

func newCountingStore(st store.Store) *countingStore {
	return &countingStore{Store: st, calls: map[string]int{}, onRequest: map[string]int{}}
}

func (c *countingStore) count(ctx context.Context, method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[method]++
	if ctx != nil && ctx.Value(requestMarker{}) != nil {
		c.onRequest[method]++
	}
}

// get returns the number of calls of method.
func (c *countingStore) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// requestCalls returns the calls made on marked contexts, by method.
func (c *countingStore) requestCalls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.onRequest))
	for k, v := range c.onRequest {
		m[k] = v
	}
	return m
}

func (c *countingStore) Ping(ctx context.Context) error {
	c.count(ctx, "Ping")
	return c.Store.Ping(ctx)
}

func (c *countingStore) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	c.count(ctx, "UpsertUser")
	return c.Store.UpsertUser(ctx, u)
}

func (c *countingStore) GetUser(ctx context.Context, id int64) (store.User, error) {
	c.count(ctx, "GetUser")
	return c.Store.GetUser(ctx, id)
}

func (c *countingStore) GetUserByPublicID(ctx context.Context, publicID string) (store.User, error) {
	c.count(ctx, "GetUserByPublicID")
	return c.Store.GetUserByPublicID(ctx, publicID)
}

func (c *countingStore) CreateRefreshToken(ctx context.Context, t store.RefreshToken) (store.RefreshToken, error) {
	c.count(ctx, "CreateRefreshToken")
	return c.Store.CreateRefreshToken(ctx, t)
}

func (c *countingStore) RotateRefreshToken(ctx context.Context, oldHash []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	c.count(ctx, "RotateRefreshToken")
	return c.Store.RotateRefreshToken(ctx, oldHash, next, now)
}

func (c *countingStore) RevokeRefreshFamily(ctx context.Context, hash []byte, now time.Time) error {
	c.count(ctx, "RevokeRefreshFamily")
	return c.Store.RevokeRefreshFamily(ctx, hash, now)
}

func (c *countingStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	c.count(ctx, "ListSigningKeys")
	return c.Store.ListSigningKeys(ctx)
}

func (c *countingStore) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	c.count(ctx, "CreateSigningKey")
	return c.Store.CreateSigningKey(ctx, k)
}

func (c *countingStore) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	c.count(ctx, "RetireSigningKey")
	return c.Store.RetireSigningKey(ctx, kid, at)
}

func (c *countingStore) CreateAPIKey(ctx context.Context, k store.APIKey, maxActive int) (store.APIKey, error) {
	c.count(ctx, "CreateAPIKey")
	return c.Store.CreateAPIKey(ctx, k, maxActive)
}

func (c *countingStore) ListAPIKeys(ctx context.Context, userID int64) ([]store.APIKey, error) {
	c.count(ctx, "ListAPIKeys")
	return c.Store.ListAPIKeys(ctx, userID)
}

func (c *countingStore) RevokeAPIKey(ctx context.Context, userID int64, publicID string, at time.Time) error {
	c.count(ctx, "RevokeAPIKey")
	return c.Store.RevokeAPIKey(ctx, userID, publicID, at)
}

func (c *countingStore) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, store.User, error) {
	c.count(ctx, "GetAPIKeyByHash")
	return c.Store.GetAPIKeyByHash(ctx, hash)
}

func (c *countingStore) ListAPIKeysRevokedSince(ctx context.Context, since time.Time) ([][]byte, error) {
	c.count(ctx, "ListAPIKeysRevokedSince")
	return c.Store.ListAPIKeysRevokedSince(ctx, since)
}

func (c *countingStore) TouchAPIKeys(ctx context.Context, lastUsed map[int64]time.Time) error {
	c.count(ctx, "TouchAPIKeys")
	return c.Store.TouchAPIKeys(ctx, lastUsed)
}

func (c *countingStore) CreateProject(ctx context.Context, p store.Project) (store.Project, error) {
	c.count(ctx, "CreateProject")
	return c.Store.CreateProject(ctx, p)
}

func (c *countingStore) GetProject(ctx context.Context, userID int64, publicID string) (store.Project, error) {
	c.count(ctx, "GetProject")
	return c.Store.GetProject(ctx, userID, publicID)
}

func (c *countingStore) ListProjects(ctx context.Context, userID int64, opts store.ListOptions) (store.Page[store.Project], error) {
	c.count(ctx, "ListProjects")
	return c.Store.ListProjects(ctx, userID, opts)
}

func (c *countingStore) UpdateProject(ctx context.Context, userID int64, publicID string, patch store.ProjectPatch, now time.Time) (store.Project, error) {
	c.count(ctx, "UpdateProject")
	return c.Store.UpdateProject(ctx, userID, publicID, patch, now)
}

func (c *countingStore) DeleteProject(ctx context.Context, userID int64, publicID string, now time.Time) error {
	c.count(ctx, "DeleteProject")
	return c.Store.DeleteProject(ctx, userID, publicID, now)
}

func (c *countingStore) CreateConversation(ctx context.Context, conv store.Conversation, items []store.Item) (store.Conversation, []store.Item, error) {
	c.count(ctx, "CreateConversation")
	return c.Store.CreateConversation(ctx, conv, items)
}

func (c *countingStore) GetConversation(ctx context.Context, userID int64, publicID string) (store.Conversation, error) {
	c.count(ctx, "GetConversation")
	return c.Store.GetConversation(ctx, userID, publicID)
}

func (c *countingStore) ListConversations(ctx context.Context, userID int64, opts store.ListOptions) (store.Page[store.Conversation], int, error) {
	c.count(ctx, "ListConversations")
	return c.Store.ListConversations(ctx, userID, opts)
}

func (c *countingStore) UpdateConversation(ctx context.Context, userID int64, publicID string, patch store.ConversationPatch, now time.Time) (store.Conversation, error) {
	c.count(ctx, "UpdateConversation")
	return c.Store.UpdateConversation(ctx, userID, publicID, patch, now)
}

func (c *countingStore) DeleteConversation(ctx context.Context, userID int64, publicID string) error {
	c.count(ctx, "DeleteConversation")
	return c.Store.DeleteConversation(ctx, userID, publicID)
}

func (c *countingStore) SetConversationTitleIfEmpty(ctx context.Context, userID int64, publicID string, title string) (store.Conversation, error) {
	c.count(ctx, "SetConversationTitleIfEmpty")
	return c.Store.SetConversationTitleIfEmpty(ctx, userID, publicID, title)
}

func (c *countingStore) AppendItems(ctx context.Context, userID int64, convPublicID string, items []store.Item) ([]store.Item, error) {
	c.count(ctx, "AppendItems")
	return c.Store.AppendItems(ctx, userID, convPublicID, items)
}

func (c *countingStore) ListItems(ctx context.Context, userID int64, convPublicID string, opts store.ListOptions) (store.Page[store.Item], error) {
	c.count(ctx, "ListItems")
	return c.Store.ListItems(ctx, userID, convPublicID, opts)
}

func (c *countingStore) GetItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) (store.Item, error) {
	c.count(ctx, "GetItem")
	return c.Store.GetItem(ctx, userID, convPublicID, itemPublicID)
}

func (c *countingStore) DeleteItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) error {
	c.count(ctx, "DeleteItem")
	return c.Store.DeleteItem(ctx, userID, convPublicID, itemPublicID)
}

func (c *countingStore) GetSettings(ctx context.Context, userID int64) (store.UserSettings, error) {
	c.count(ctx, "GetSettings")
	return c.Store.GetSettings(ctx, userID)
}

func (c *countingStore) UpdateSettings(ctx context.Context, userID int64, defaults store.UserSettings, apply func(*store.UserSettings) error) (store.UserSettings, error) {
	c.count(ctx, "UpdateSettings")
	return c.Store.UpdateSettings(ctx, userID, defaults, apply)
}

var _ store.Store = (*countingStore)(nil)
