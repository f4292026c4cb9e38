package conversation

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/store"
)

// Limits of what one conversation stores, so that no request can make a
// record (and so a listing, or a prompt built from it) arbitrarily large.
const (
	// MaxTitleLength is the longest conversation title, in characters.
	// Titles made from a first message are MaxGeneratedTitle at most.
	MaxTitleLength = 256
	// MaxItemContentBytes bounds the content of one item: the bytes of its
	// texts and image URLs together. It fits a long pasted document; inline
	// images are not stored (see UserItem).
	MaxItemContentBytes = 512 << 10
	// MaxGeneratedTitle is the length a title made from a message is cut
	// to, "…" not counted.
	MaxGeneratedTitle = 60
)

// ContentError is content that cannot be stored. Its message is written
// for the client; adapters answer it as 400 invalid_value.
type ContentError struct{ msg string }

func (e *ContentError) Error() string { return e.msg }

// ValidateContent checks the content of an item about to be stored: at
// most MaxItemContentBytes, and no NUL character (which PostgreSQL cannot
// store). It returns a *ContentError or nil.
func ValidateContent(parts []store.ContentPart) error {
	n := 0
	for _, p := range parts {
		n += len(p.Text) + len(p.ImageURL)
		if strings.IndexByte(p.Text, 0) >= 0 || strings.IndexByte(p.ImageURL, 0) >= 0 {
			return &ContentError{"content cannot contain the NUL character (\\u0000)"}
		}
	}
	if n > MaxItemContentBytes {
		return &ContentError{"content can be at most " + strconv.Itoa(MaxItemContentBytes) + " bytes long"}
	}
	return nil
}

// ValidateTitle trims a title and checks its length. It returns a
// *ContentError when the title is too long.
func ValidateTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if utf8.RuneCountInString(title) > MaxTitleLength {
		return "", &ContentError{"title can be at most " + strconv.Itoa(MaxTitleLength) + " characters long"}
	}
	return title, nil
}

// TitleFrom makes a title of a message: its words, separated by single
// spaces, cut at a word boundary to at most MaxGeneratedTitle characters,
// with "…" when cut. A first word longer than that is cut inside.
func TitleFrom(text string) string {
	collapsed := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(collapsed) <= MaxGeneratedTitle {
		return collapsed
	}
	end, n := 0, 0
	for i := range collapsed {
		if n == MaxGeneratedTitle {
			end = i
			break
		}
		n++
	}
	cut := collapsed[:end]
	if collapsed[end] != ' ' {
		// Inside a word: back to the space before it, unless that drops
		// more than half of the title.
		if i := strings.LastIndexByte(cut, ' '); i >= MaxGeneratedTitle/2 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, " ") + "…"
}

// WithoutNUL replaces NUL characters, which PostgreSQL cannot store, by
// U+FFFD.
func WithoutNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
