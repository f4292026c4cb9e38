// Package bytesconv views bytes as a string without copying them, for the
// hot paths that read request and stream bytes with gjson.
package bytesconv

import "unsafe"

// String returns b as a string without copying. The string must not outlive
// b, and b must not change while the string is used: results that are kept
// are cloned or appended to a buffer of the caller's own.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
