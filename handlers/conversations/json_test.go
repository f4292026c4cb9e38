package conversations

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func TestItemJSON(t *testing.T) {
	created := time.Unix(1700000000, 500)
	tests := []struct {
		name string
		item store.Item
		want string
	}{
		{
			name: "user text",
			item: store.Item{PublicID: "msg_1", Type: "message", Role: "user", Status: "completed", CreatedAt: created,
				Content: []store.ContentPart{{Type: "input_text", Text: "hi"}}},
			want: `{"id":"msg_1","type":"message","role":"user","status":"completed","content":[{"type":"input_text","text":"hi"}],"created_at":1700000000}`,
		},
		{
			name: "assistant text, refusal and empty text",
			item: store.Item{PublicID: "msg_2", Type: "message", Role: "assistant", Status: "incomplete", CreatedAt: created,
				Content: []store.ContentPart{{Type: "output_text", Text: "yes"}, {Type: "refusal", Text: "no"}, {Type: "input_text"}}},
			want: `{"id":"msg_2","type":"message","role":"assistant","status":"incomplete","content":[` +
				`{"type":"output_text","text":"yes","annotations":[]},{"type":"refusal","refusal":"no"},{"type":"input_text","text":""}],"created_at":1700000000}`,
		},
		{
			name: "image, unknown part, defaults for empty type and status",
			item: store.Item{PublicID: "msg_3", Role: "user", CreatedAt: created,
				Content: []store.ContentPart{{Type: "input_image", ImageURL: "jan_1"}, {Type: "reasoning_text", Text: "hm"}}},
			want: `{"id":"msg_3","type":"message","role":"user","status":"completed","content":[` +
				`{"type":"input_image","image_url":"jan_1","detail":"auto"},{"type":"reasoning_text","text":"hm"}],"created_at":1700000000}`,
		},
		{
			name: "no content",
			item: store.Item{PublicID: "msg_4", Type: "message", Role: "user", Status: "in_progress", CreatedAt: created},
			want: `{"id":"msg_4","type":"message","role":"user","status":"in_progress","content":[],"created_at":1700000000}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(ItemJSON(tt.item))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConversationJSON(t *testing.T) {
	c := store.Conversation{PublicID: "conv_1", CreatedAt: time.Unix(100, 0), UpdatedAt: time.Unix(200, 0)}
	got, _ := json.Marshal(ConversationJSON(c))
	want := `{"id":"conv_1","object":"conversation","created_at":100,"updated_at":200,"metadata":{},"title":null,"project_id":null,"archived":false}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	c.Title, c.ProjectPublicID, c.Archived, c.Metadata = "T", "proj_1", true, map[string]string{"k": "v"}
	got, _ = json.Marshal(ConversationJSON(c))
	want = `{"id":"conv_1","object":"conversation","created_at":100,"updated_at":200,"metadata":{"k":"v"},"title":"T","project_id":"proj_1","archived":true}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
