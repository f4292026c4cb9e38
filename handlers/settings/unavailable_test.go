package settings

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// downStore is a store whose settings methods report the database as
// unreachable.
type downStore struct{ store.Store }

var errDown = fmt.Errorf("connecting: %w", store.ErrUnavailable)

func (downStore) GetSettings(context.Context, int64) (store.UserSettings, error) {
	return store.UserSettings{}, errDown
}

func (downStore) UpdateSettings(context.Context, int64, store.UserSettings, func(*store.UserSettings) error) (store.UserSettings, error) {
	return store.UserSettings{}, errDown
}

// An unreachable database is a 503, never the defaults: answering defaults
// would show a user settings they did not choose.
func TestStoreUnavailable(t *testing.T) {
	st := downStore{memory.New()}
	s := httpxtest.NewServer(t, st, &Handler{Store: st})
	s.Do(t, Alice, "GET", path, nil).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
	s.Do(t, Alice, "PATCH", path, `{"enable_trace":true}`).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
}
