package conversations

import (
	"encoding/json"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/store"
)

// Conversation is a conversation as the API shows it: OpenAI's conversation
// object plus the spec's title, project_id, archived and updated_at.
type Conversation struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"` // always "conversation"
	CreatedAt int64             `json:"created_at"`
	UpdatedAt int64             `json:"updated_at"`
	Metadata  map[string]string `json:"metadata"`
	Title     *string           `json:"title"`      // null while untitled
	ProjectID *string           `json:"project_id"` // null when in no project
	Archived  bool              `json:"archived"`
}

// ConversationJSON converts a stored conversation to its API form.
func ConversationJSON(c store.Conversation) Conversation {
	out := Conversation{
		ID:        c.PublicID,
		Object:    "conversation",
		CreatedAt: c.CreatedAt.Unix(),
		UpdatedAt: c.UpdatedAt.Unix(),
		Metadata:  c.Metadata,
		Archived:  c.Archived,
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if c.Title != "" {
		out.Title = &c.Title
	}
	if c.ProjectPublicID != "" {
		out.ProjectID = &c.ProjectPublicID
	}
	return out
}

// ConversationWithItems is GET /v1/conversations/{id}: the spec's
// "conversation with its items". It is the conversation object (so that
// OpenAI's SDKs read it unchanged) plus the first page of its items, oldest
// first, with the list fields of GET …/items?order=asc: when has_more is
// true, that listing continues with after=last_id.
type ConversationWithItems struct {
	Conversation
	Items   []Item  `json:"items"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// ConversationWithItemsJSON converts a conversation and its first page of
// items to their API form.
func ConversationWithItemsJSON(c store.Conversation, page store.Page[store.Item]) ConversationWithItems {
	out := ConversationWithItems{Conversation: ConversationJSON(c), Items: ItemsJSON(page.Items), HasMore: page.HasMore}
	if out.Items == nil {
		out.Items = []Item{}
	}
	if n := len(out.Items); n > 0 {
		first, last := out.Items[0].ID, out.Items[n-1].ID
		out.FirstID, out.LastID = &first, &last
	}
	return out
}

// Item is a conversation item as the API shows it, in the shape of OpenAI's
// message item, plus created_at.
type Item struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // "message"
	Role      string    `json:"role"`
	Status    string    `json:"status"`
	Content   []Content `json:"content"`
	CreatedAt int64     `json:"created_at"`
}

// ItemJSON converts a stored item to its API form.
func ItemJSON(it store.Item) Item {
	content := make([]Content, len(it.Content))
	for i, p := range it.Content {
		content[i] = Content(p)
	}
	typ := it.Type
	if typ == "" {
		typ = "message"
	}
	status := it.Status
	if status == "" {
		status = store.ItemStatusCompleted
	}
	return Item{
		ID:        it.PublicID,
		Type:      typ,
		Role:      it.Role,
		Status:    status,
		Content:   content,
		CreatedAt: it.CreatedAt.Unix(),
	}
}

// ItemsJSON converts stored items to their API form.
func ItemsJSON(items []store.Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = ItemJSON(it)
	}
	return out
}

// Content is one part of an item's content. It is written in the shape
// OpenAI gives the part's type: input_text and output_text carry text (and
// output_text an annotations array), refusal carries refusal, input_image
// carries image_url and detail.
type Content store.ContentPart

// MarshalJSON writes the part in its type's shape.
func (c Content) MarshalJSON() ([]byte, error) {
	switch c.Type {
	case conversation.PartOutputText:
		return json.Marshal(struct {
			Type        string     `json:"type"`
			Text        string     `json:"text"`
			Annotations []struct{} `json:"annotations"`
		}{c.Type, c.Text, []struct{}{}})
	case conversation.PartRefusal:
		return json.Marshal(struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{c.Type, c.Text})
	case conversation.PartInputImage:
		return json.Marshal(struct {
			Type     string `json:"type"`
			ImageURL string `json:"image_url"`
			Detail   string `json:"detail"`
		}{c.Type, c.ImageURL, "auto"})
	case conversation.PartInputText, "text":
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{c.Type, c.Text})
	}
	return json.Marshal(store.ContentPart(c))
}
