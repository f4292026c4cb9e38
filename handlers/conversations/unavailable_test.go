package conversations

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// downStore is a store whose conversation methods report the database as
// unreachable.
type downStore struct{ store.Store }

var errDown = fmt.Errorf("connecting: %w", store.ErrUnavailable)

func (downStore) ListConversations(context.Context, int64, store.ListOptions) (store.Page[store.Conversation], int, error) {
	return store.Page[store.Conversation]{}, 0, errDown
}

func (downStore) CreateConversation(context.Context, store.Conversation, []store.Item) (store.Conversation, []store.Item, error) {
	return store.Conversation{}, nil, errDown
}

func (downStore) GetConversation(context.Context, int64, string) (store.Conversation, error) {
	return store.Conversation{}, errDown
}

func (downStore) ListItems(context.Context, int64, string, store.ListOptions) (store.Page[store.Item], error) {
	return store.Page[store.Item]{}, errDown
}

func (downStore) AppendItems(context.Context, int64, string, []store.Item) ([]store.Item, error) {
	return nil, errDown
}

func TestStoreUnavailable(t *testing.T) {
	st := downStore{memory.New()}
	s := httpxtest.NewServer(t, st, &Handler{Store: st})
	for _, tt := range []struct{ method, path string }{
		{"GET", "/v1/conversations"},
		{"POST", "/v1/conversations"},
		{"GET", "/v1/conversations/conv_1"},
		{"GET", "/v1/conversations/conv_1/items"},
		{"POST", "/v1/conversations/conv_1/items"},
	} {
		var body any
		if tt.method == "POST" {
			body = map[string]any{"role": "user", "content": "hi"}
		}
		s.Do(t, Alice, tt.method, tt.path, body).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
	}
}
