package provider

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxMessageLen bounds an upstream message shown to clients.
const maxMessageLen = 300

var (
	// tokenPattern matches bearer tokens and JWTs, always redacted.
	tokenPattern = regexp.MustCompile(`(?i)bearer\s+[^\s"']+|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`)
	// keyPattern matches the prefixed keys of API providers (sk-…, sk_…,
	// sk-ant-…, rk_live_…), always redacted.
	keyPattern = regexp.MustCompile(`\b(?:sk|pk|rk)[-_][A-Za-z0-9_\-]{6,}`)
	// prefixedPattern matches runs prefixed like keys by words (key-…,
	// token_…); only those with a digit are redacted, so that words such
	// as "token_limit_exceeded" stay.
	prefixedPattern = regexp.MustCompile(`(?i)\b(?:ak|key|token|sess)[-_][A-Za-z0-9_\-]{6,}`)
	// longRunPattern matches long runs that may be opaque tokens; only those
	// that mix letters and digits are redacted.
	longRunPattern = regexp.MustCompile(`[A-Za-z0-9_\-+/=]{32,}`)
	// urlPattern matches URLs, whose userinfo and query may hold secrets.
	urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>]+`)
)

// SanitizeMessage makes an upstream error message safe to show: it applies
// the old, new replacement pairs (for example the upstream model name → the
// public id), strips URLs' userinfo and query, redacts anything key-like,
// drops control characters and truncates.
func SanitizeMessage(msg string, replacements ...string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return ""
	}
	if len(msg) > 4*maxMessageLen {
		msg = msg[:4*maxMessageLen] // bound the work of the regexps
	}
	for i := 0; i+1 < len(replacements); i += 2 {
		if replacements[i] != "" && replacements[i] != replacements[i+1] {
			msg = strings.ReplaceAll(msg, replacements[i], replacements[i+1])
		}
	}
	msg = urlPattern.ReplaceAllStringFunc(msg, redactURL)
	msg = tokenPattern.ReplaceAllString(msg, "[redacted]")
	msg = keyPattern.ReplaceAllString(msg, "[redacted]")
	msg = prefixedPattern.ReplaceAllStringFunc(msg, redactWithDigit)
	msg = longRunPattern.ReplaceAllStringFunc(msg, redactLongRun)
	msg = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != ' ') {
			if r == '\n' || r == '\t' || r == '\r' {
				return ' '
			}
			return -1
		}
		return r
	}, msg)
	return truncate(msg, maxMessageLen)
}

func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host := rest
	path := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	return scheme + "://" + host + path
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// safeIdentifier returns s when it is a short identifier (letters, digits,
// _ . -), else "". Upstream error codes pass only in that form.
func safeIdentifier(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return ""
		}
	}
	if SanitizeMessage(s) != s {
		return ""
	}
	return s
}

// safeParam is safeIdentifier that also allows the brackets of
// "messages[0].content".
func safeParam(s string) string {
	return safeIdentifier(strings.NewReplacer("[", "_", "]", "_").Replace(s))
}

// redactLongRun redacts a long run that mixes letters and digits, as keys
// and tokens do; long words joined by underscores stay readable.
func redactLongRun(s string) string {
	if len(s) < 32 {
		return s
	}
	var letters, digits bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		letters = letters || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digits = digits || c >= '0' && c <= '9'
	}
	if letters && digits {
		return "[redacted]"
	}
	return s
}

// redactWithDigit redacts a prefixed run that holds a digit, as keys do.
func redactWithDigit(s string) string {
	if strings.ContainsAny(s, "0123456789") {
		return "[redacted]"
	}
	return s
}
