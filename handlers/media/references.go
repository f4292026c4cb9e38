package media

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// idPrefix starts every media id of Jan's media API.
const idPrefix = "jan_"

var idPrefixBytes = []byte(idPrefix)

// HasReferences reports whether a chat completions request body has an
// image_url whose url is a jan_… media reference. A body without the bytes
// "jan_" — nearly every request — costs one bytes.Contains and no
// allocation; only a body that has them is walked.
func HasReferences(body []byte) bool {
	if !bytes.Contains(body, idPrefixBytes) {
		return false
	}
	_, ok := firstReference(gjson.GetBytes(body, "messages"))
	return ok
}

// Reference reports whether an image URL refers to a media object by its id,
// either bare ("jan_01hqr8v9k2…") or as a parameter of a data URL
// ("data:image/png;jan_01hqr8v9k2…"), and returns the id.
func Reference(url string) (id string, ok bool) {
	if isID(url) {
		return url, true
	}
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return "", false
	}
	// Only the header of a data URL can hold the id: the payload after the
	// comma is the data itself, and URL-safe base64 may contain "jan_".
	header, _, _ := strings.Cut(rest, ",")
	for param := range strings.SplitSeq(header, ";") {
		if isID(param) {
			return param, true
		}
	}
	return "", false
}

// isID reports whether s is "jan_" followed by one or more ASCII letters and
// digits, the shape of the media API's ids (a ULID in lower case).
func isID(s string) bool {
	rest, ok := strings.CutPrefix(s, idPrefix)
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// firstReference returns the first media reference among the image parts of
// messages: image_url.url as chat completions send it, or image_url given as
// a plain string.
func firstReference(messages gjson.Result) (string, bool) {
	if !messages.IsArray() {
		return "", false
	}
	var id string
	messages.ForEach(func(_, message gjson.Result) bool {
		content := message.Get("content")
		if !content.IsArray() {
			return true
		}
		content.ForEach(func(_, part gjson.Result) bool {
			image := part.Get("image_url")
			if image.IsObject() {
				image = image.Get("url")
			}
			if image.Type == gjson.String {
				if ref, ok := Reference(image.Str); ok {
					id = ref
					return false
				}
			}
			return true
		})
		return id == ""
	})
	return id, id != ""
}
