package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// DefaultSettings are the defaults of the specification's example, which the
// suite passes to UpdateSettings.
func defaultSettings() store.UserSettings {
	return store.UserSettings{
		MemoryConfig: store.MemoryConfig{
			Enabled: true, ObserveEnabled: true, InjectUserCore: true, InjectSemantic: true,
			MaxUserItems: 3, MaxProjectItems: 5, MaxEpisodicItems: 3, MinSimilarity: 0.75,
		},
		ProfileSettings: store.ProfileSettings{BaseStyle: "Friendly"},
		EnableTools:     true,
		Preferences:     map[string]any{},
	}
}

func testSettings(t *testing.T, s store.Store) {
	t.Run("none stored", func(t *testing.T) {
		_, err := s.GetSettings(t.Context(), newUser(t, s).ID)
		wantErr(t, "GetSettings(none stored)", err, store.ErrNotFound)
	})

	t.Run("first update starts from the defaults", func(t *testing.T) {
		u := newUser(t, s)
		var seen store.UserSettings
		got, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			seen = *us
			us.ProfileSettings.NickName = "Dev"
			us.MemoryConfig.MaxUserItems = 5
			us.Preferences["theme"] = "dark"
			us.Preferences["size"] = 3
			return nil
		})
		must(t, "UpdateSettings", err)
		if seen.UserID != u.ID || seen.ProfileSettings.BaseStyle != "Friendly" || seen.MemoryConfig.MinSimilarity != 0.75 || !seen.EnableTools {
			t.Errorf("apply saw %+v, want the defaults for user %d", seen, u.ID)
		}
		if got.ID == 0 || got.UserID != u.ID || got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Errorf("stored settings %+v: want ID, UserID, timestamps set", got)
		}
		if got.ProfileSettings.NickName != "Dev" || got.MemoryConfig.MaxUserItems != 5 ||
			got.ProfileSettings.BaseStyle != "Friendly" || got.MemoryConfig.MaxProjectItems != 5 || !got.EnableTools {
			t.Errorf("stored settings %+v, want the defaults with the change", got)
		}
		read, err := s.GetSettings(t.Context(), u.ID)
		must(t, "GetSettings", err)
		if read.ID != got.ID || read.ProfileSettings != got.ProfileSettings || read.MemoryConfig != got.MemoryConfig ||
			read.AdvancedSettings != got.AdvancedSettings || read.EnableTools != got.EnableTools || !sameTime(read.UpdatedAt, got.UpdatedAt) {
			t.Errorf("GetSettings = %+v, want %+v", read, got)
		}
		// Preferences come back as JSON decodes them.
		if read.Preferences["theme"] != "dark" || read.Preferences["size"] != float64(3) {
			t.Errorf("Preferences = %#v, want theme dark and size 3 (float64)", read.Preferences)
		}
	})

	t.Run("later updates start from the stored settings", func(t *testing.T) {
		u := newUser(t, s)
		first, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.AdvancedSettings.WebSearch = true
			return nil
		})
		must(t, "UpdateSettings", err)
		var seen store.UserSettings
		second, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			seen = *us
			us.EnableTrace = true
			// Who the settings belong to and when they were made are not
			// the caller's to change.
			us.ID, us.UserID, us.CreatedAt = 999999, 999999, time.Unix(0, 0)
			return nil
		})
		must(t, "UpdateSettings(second)", err)
		if !seen.AdvancedSettings.WebSearch || seen.ID != first.ID {
			t.Errorf("second apply saw %+v, want the stored settings", seen)
		}
		if !second.AdvancedSettings.WebSearch || !second.EnableTrace || second.ID != first.ID || second.UserID != u.ID || !sameTime(second.CreatedAt, first.CreatedAt) {
			t.Errorf("second update stored %+v", second)
		}
		if second.UpdatedAt.Before(first.UpdatedAt) {
			t.Errorf("UpdatedAt went back from %v to %v", first.UpdatedAt, second.UpdatedAt)
		}
	})

	t.Run("an apply error aborts", func(t *testing.T) {
		u := newUser(t, s)
		errInvalid := errors.New("max_user_items out of range")
		_, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.MemoryConfig.MaxUserItems = 99
			return errInvalid
		})
		if err != errInvalid {
			t.Errorf("UpdateSettings error = %v, want the apply error as it is", err)
		}
		_, err = s.GetSettings(t.Context(), u.ID)
		wantErr(t, "GetSettings after aborted first update", err, store.ErrNotFound)

		_, err = s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.MemoryConfig.MaxUserItems = 7
			return nil
		})
		must(t, "UpdateSettings", err)
		_, err = s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.MemoryConfig.MaxUserItems = 99
			return errInvalid
		})
		if err != errInvalid {
			t.Errorf("UpdateSettings error = %v, want the apply error as it is", err)
		}
		read, err := s.GetSettings(t.Context(), u.ID)
		must(t, "GetSettings", err)
		if read.MemoryConfig.MaxUserItems != 7 {
			t.Errorf("MaxUserItems = %d after aborted update, want 7", read.MemoryConfig.MaxUserItems)
		}
	})

	t.Run("concurrent updates are not lost", func(t *testing.T) {
		u := newUser(t, s)
		const writers = 20
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				_, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
					us.MemoryConfig.MaxEpisodicItems++
					us.Preferences[fmt.Sprintf("w%d", w)] = true
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, "UpdateSettings", err)
		}
		read, err := s.GetSettings(t.Context(), u.ID)
		must(t, "GetSettings", err)
		if want := 3 + writers; read.MemoryConfig.MaxEpisodicItems != want {
			t.Errorf("MaxEpisodicItems = %d after %d concurrent increments from 3, want %d", read.MemoryConfig.MaxEpisodicItems, writers, want)
		}
		if len(read.Preferences) != writers {
			t.Errorf("%d preferences stored, want %d", len(read.Preferences), writers)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := s.UpdateSettings(t.Context(), 987654321, defaultSettings(), func(*store.UserSettings) error { return nil })
		wantErr(t, "UpdateSettings(unknown user)", err, store.ErrNotFound)
	})
}
