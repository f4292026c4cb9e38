package memory

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	"github.com/caddy-llm/gateway/store"
)

// The copy functions return records that share no memory with their input,
// so that neither the caller nor the store can change the other's data.

func copyRefreshToken(t *store.RefreshToken) store.RefreshToken {
	c := *t
	c.Hash = bytes.Clone(t.Hash)
	c.UsedAt = normTimePtr(t.UsedAt)
	c.RevokedAt = normTimePtr(t.RevokedAt)
	return c
}

func copySigningKey(k *store.SigningKey) store.SigningKey {
	c := *k
	c.PrivateKey = bytes.Clone(k.PrivateKey)
	c.RetiredAt = normTimePtr(k.RetiredAt)
	return c
}

func copyAPIKey(k *store.APIKey) store.APIKey {
	c := *k
	c.Hash = bytes.Clone(k.Hash)
	c.ExpiresAt = normTimePtr(k.ExpiresAt)
	c.RevokedAt = normTimePtr(k.RevokedAt)
	c.LastUsedAt = normTimePtr(k.LastUsedAt)
	return c
}

func copyProject(p *store.Project) store.Project {
	c := *p
	c.ArchivedAt = normTimePtr(p.ArchivedAt)
	return c
}

// copyMetadata never returns nil, matching the NOT NULL jsonb column of
// store/postgres.
func copyMetadata(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func copyItem(it *store.Item) store.Item {
	c := *it
	c.Content = copyContent(it.Content)
	return c
}

func copyContent(parts []store.ContentPart) []store.ContentPart {
	if parts == nil {
		return []store.ContentPart{}
	}
	return slices.Clone(parts)
}

// copySettings copies the free-form Preferences through JSON, so they come
// back with the same Go types (float64 numbers, []any, map[string]any) as
// from store/postgres's jsonb column, and never nil.
func copySettings(in *store.UserSettings) (store.UserSettings, error) {
	c := *in
	c.Preferences = map[string]any{}
	if len(in.Preferences) > 0 {
		b, err := json.Marshal(in.Preferences)
		if err != nil {
			return store.UserSettings{}, err
		}
		if err := json.Unmarshal(b, &c.Preferences); err != nil {
			return store.UserSettings{}, err
		}
	}
	return c, nil
}
