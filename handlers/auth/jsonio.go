package auth

import "net/http"

// maxBodySize caps the request bodies of the authentication API; none of
// them needs more than a few hundred bytes.
const maxBodySize = 64 << 10

// noStore marks a response that carries a secret as not cacheable
// (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}
