package projects

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// downStore is a store whose project methods report the database as
// unreachable.
type downStore struct{ store.Store }

var errDown = fmt.Errorf("connecting: %w", store.ErrUnavailable)

func (downStore) CreateProject(context.Context, store.Project) (store.Project, error) {
	return store.Project{}, errDown
}

func (downStore) ListProjects(context.Context, int64, store.ListOptions) (store.Page[store.Project], error) {
	return store.Page[store.Project]{}, errDown
}

func (downStore) UpdateProject(context.Context, int64, string, store.ProjectPatch, time.Time) (store.Project, error) {
	return store.Project{}, errDown
}

func TestStoreUnavailable(t *testing.T) {
	st := downStore{memory.New()}
	s := httpxtest.NewServer(t, st, &Handler{Store: st})
	s.Do(t, Alice, "POST", "/v1/projects", map[string]any{"name": "a"}).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
	s.Do(t, Alice, "GET", "/v1/projects", nil).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
	s.Do(t, Alice, "PATCH", "/v1/projects/proj_1", map[string]any{"name": "b"}).WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
}
