// Package jsonguard checks the shape of a JSON document before anything
// parses it: how deeply it nests, and whether a string holds the NUL
// character. It scans the bytes once, iteratively, with constant memory, so
// it is safe on any input; the recursive parsers that run afterwards
// (gjson.ValidBytes, encoding/json, merge patches) then only ever see
// documents of bounded depth.
//
// It does not validate JSON otherwise: a document it accepts may still be
// malformed, and the parser that follows says so.
package jsonguard

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// MaxDepth is the deepest nesting of arrays and objects any JSON document
// the gateway parses may have; the top-level value is level 1.
//
// Real requests need far less: a chat request with image parts nests 6
// levels, a tool's JSON schema rarely more than 15 (OpenAI's own structured
// outputs allow 10 levels of schema nesting), and settings preferences are
// a handful. 64 leaves room for any of them while keeping every recursive
// parser's stack trivial: without a bound, ~6 MB of "[" made gjson recurse
// until the Go runtime killed the whole process with a stack overflow.
const MaxDepth = 64

// Report is what Scan learnt about a document.
type Report struct {
	// TooDeep reports that the document nests deeper than the limit given
	// to Scan. The scan stops there, so nothing after it is known.
	TooDeep bool
	// NUL reports a string (a value or a key) holding "\u0000".
	NUL bool
	// NULMember is the top-level member of the object whose value or key
	// holds the first NUL, "" when the NUL is not inside a top-level
	// object's member.
	NULMember string
}

// Scan reads the document b once and reports its shape, looking at most
// maxDepth levels deep (a non-positive maxDepth means MaxDepth). Brackets
// inside strings do not count; escapes are followed, so "\\u0000" is not a
// NUL.
func Scan(b []byte, maxDepth int) Report {
	if maxDepth <= 0 {
		maxDepth = MaxDepth
	}
	var (
		rep   Report
		depth int
		// keyStart and keyEnd delimit the last key read at depth 1 (its
		// bytes inside the quotes), for NULMember.
		keyStart, keyEnd int
		topObject        bool
	)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if depth == 0 {
				topObject = b[i] == '{'
			}
			depth++
			if depth > maxDepth {
				rep.TooDeep = true
				return rep
			}
		case '}', ']':
			depth--
		case '"':
			start := i + 1
			var nul bool
			i, nul = stringEnd(b, start)
			isKey := depth == 1 && topObject && nextNonSpace(b, i+1) == ':'
			if isKey {
				keyStart, keyEnd = start, min(i, len(b))
			}
			if nul && !rep.NUL {
				rep.NUL = true
				if depth >= 1 && topObject && keyEnd > keyStart {
					rep.NULMember = string(b[keyStart:keyEnd])
				}
			}
		}
	}
	return rep
}

// stringEnd returns the index of the quote that closes the string whose
// content starts at i (len(b) when it is not closed), and whether the string
// holds an escaped NUL. It jumps to the next quote and from backslash to
// backslash before it (bytes.IndexByte is vectorised); the next quote is
// searched again only when an escape skipped it, so a string of escapes
// costs one pass, not one pass per escape.
func stringEnd(b []byte, i int) (end int, nul bool) {
	end = -1
	for i < len(b) {
		if end < i {
			end = len(b) // an unclosed string ends with the document
			if q := bytes.IndexByte(b[i:], '"'); q >= 0 {
				end = i + q
			}
		}
		bs := bytes.IndexByte(b[i:end], '\\')
		if bs < 0 {
			return end, nul
		}
		k := i + bs // an escape: skip it, whatever it escapes
		if k+5 < len(b) && b[k+1] == 'u' && b[k+2] == '0' && b[k+3] == '0' && b[k+4] == '0' && b[k+5] == '0' {
			nul = true
		}
		i = k + 2
	}
	return len(b), nul
}

// nextNonSpace returns the first byte at or after i that is not JSON
// whitespace, or 0.
func nextNonSpace(b []byte, i int) byte {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return b[i]
		}
	}
	return 0
}

// WithinDepth reports whether b nests at most MaxDepth levels.
func WithinDepth(b []byte) bool {
	return !Scan(b, MaxDepth).TooDeep
}

// ErrTooDeep is the API error for a request body that nests deeper than
// MaxDepth: a 400 with the spec's code for a body that cannot be parsed.
func ErrTooDeep() *apierr.Error {
	return apierr.New(http.StatusBadRequest, "invalid_json",
		"the request body nests JSON deeper than "+strconv.Itoa(MaxDepth)+" levels")
}

// ErrNUL is the API error for a NUL character in a string that would be
// stored; param names the member holding it.
func ErrNUL(param string) *apierr.Error {
	return apierr.Invalid(param, "invalid_value", "strings cannot contain the NUL character (\\u0000)")
}

// Check refuses a request body that nests deeper than MaxDepth.
func Check(body []byte) *apierr.Error {
	if Scan(body, MaxDepth).TooDeep {
		return ErrTooDeep()
	}
	return nil
}

// CheckStored refuses a request body whose content is stored: one that
// nests deeper than MaxDepth, or that holds a NUL character in a string
// (PostgreSQL's text and jsonb cannot hold it, and no client needs it).
func CheckStored(body []byte) *apierr.Error {
	rep := Scan(body, MaxDepth)
	switch {
	case rep.TooDeep:
		return ErrTooDeep()
	case rep.NUL:
		return ErrNUL(rep.NULMember)
	}
	return nil
}
