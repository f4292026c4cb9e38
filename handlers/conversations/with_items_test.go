package conversations

import (
	"fmt"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
)

// GET /v1/conversations/{id} is the conversation "with its items": the
// first page of items, oldest first, with the list fields that continue it.
func TestConversationWithItems(t *testing.T) {
	for _, impl := range httpxtest.Stores {
		t.Run(impl.Name, func(t *testing.T) {
			st := impl.New(t)
			s := httpxtest.NewServer(t, st, &Handler{Store: st, MaxBodyBytes: 64 << 10})
			type withItems struct {
				conversationJSON
				Items   []itemJSON `json:"items"`
				FirstID *string    `json:"first_id"`
				LastID  *string    `json:"last_id"`
				HasMore bool       `json:"has_more"`
			}
			empty := create(t, s, Alice, map[string]any{"title": "empty"})
			var got withItems
			s.Do(t, Alice, "GET", "/v1/conversations/"+empty.ID, nil).Want(t, 200).Decode(t, &got)
			if got.ID != empty.ID || got.Object != "conversation" || got.Items == nil || len(got.Items) != 0 || got.FirstID != nil || got.LastID != nil || got.HasMore {
				t.Fatalf("empty conversation: %+v", got)
			}

			c := create(t, s, Alice, nil)
			path := "/v1/conversations/" + c.ID
			var added []string
			for i := range httpx.DefaultLimit + 1 {
				var l listJSON[itemJSON]
				s.Do(t, Alice, "POST", path+"/items", map[string]any{"role": "user", "content": fmt.Sprint("m", i)}).Want(t, 200).Decode(t, &l)
				added = append(added, l.Data[0].ID)
			}
			got = withItems{}
			s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &got)
			if len(got.Items) != httpx.DefaultLimit || !got.HasMore || *got.FirstID != added[0] || *got.LastID != added[httpx.DefaultLimit-1] || got.Items[0].Content[0].Text != "m0" {
				t.Fatalf("first page: %d items, has_more %v, first %v, last %v", len(got.Items), got.HasMore, got.FirstID, got.LastID)
			}
			var rest listJSON[itemJSON]
			s.Do(t, Alice, "GET", path+"/items?order=asc&after="+*got.LastID, nil).Want(t, 200).Decode(t, &rest)
			if len(rest.Data) != 1 || rest.Data[0].ID != added[httpx.DefaultLimit] || rest.HasMore {
				t.Fatalf("the items listing does not continue the page: %+v", rest)
			}
			s.Do(t, Bob, "GET", path, nil).WantError(t, 404, "not_found", "")
		})
	}
}
