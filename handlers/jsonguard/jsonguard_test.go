package jsonguard

import (
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name      string
		doc       string
		tooDeep   bool
		nul       bool
		nulMember string
	}{
		{name: "flat object", doc: `{"a":1,"b":"x"}`},
		{name: "at the limit", doc: deep(MaxDepth)},
		{name: "one past the limit", doc: deep(MaxDepth + 1), tooDeep: true},
		{name: "unbalanced opening only", doc: strings.Repeat("[", 6<<20), tooDeep: true},
		{name: "mixed nesting past the limit", doc: strings.Repeat(`{"a":[`, MaxDepth/2+1), tooDeep: true},
		{name: "brackets inside strings do not count", doc: `{"a":"` + strings.Repeat("[", 1000) + `"}`},
		{name: "escaped quote keeps the string open", doc: `{"a":"\"[[[[[[` + strings.Repeat("[", 100) + `"}`},
		{name: "nul in a value", doc: `{"title":"a\u0000b"}`, nul: true, nulMember: "title"},
		{name: "nul nested", doc: `{"x":1,"items":[{"content":"\u0000"}]}`, nul: true, nulMember: "items"},
		{name: "nul in a key", doc: `{"metadata":{"k\u0000":"v"}}`, nul: true, nulMember: "metadata"},
		{name: "nul in a top-level key", doc: `{"a\u0000":1}`, nul: true, nulMember: "a\\u0000"},
		{name: "escaped backslash is no nul", doc: `{"a":"\\u0000"}`},
		{name: "other escapes are no nul", doc: `{"a":"\u0001\u00000"}`, nul: true, nulMember: "a"},
		{name: "nul in a top-level array", doc: `["\u0000"]`, nul: true},
		{name: "unterminated string", doc: `{"a":"\u00`},
		{name: "escaped backslash before the quote", doc: `{"a":"x\\","b":"\u0000"}`, nul: true, nulMember: "b"},
		{name: "escaped quote", doc: `{"a":"\"[[","b":1}`},
		{name: "backslash at the end", doc: `{"a":"\`},
		// One pass, not one per escape: 3 MB of escapes once took minutes.
		{name: "a long string of escapes", doc: `{"a":"` + strings.Repeat(`\u0001`, 512<<10) + `","b":"\u0000"}`, nul: true, nulMember: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.doc), MaxDepth)
			if got.TooDeep != tt.tooDeep || got.NUL != tt.nul || got.NULMember != tt.nulMember {
				t.Fatalf("Scan = %+v, want TooDeep %v NUL %v NULMember %q", got, tt.tooDeep, tt.nul, tt.nulMember)
			}
		})
	}
}

func TestCheckStored(t *testing.T) {
	if e := CheckStored([]byte(strings.Repeat("[", 100))); e == nil || e.Status != 400 || e.Code != "invalid_json" {
		t.Fatalf("deep body: %+v, want 400 invalid_json", e)
	}
	if e := CheckStored([]byte(`{"title":"\u0000"}`)); e == nil || e.Status != 400 || e.Code != "invalid_value" || e.Param != "title" {
		t.Fatalf("nul: %+v, want 400 invalid_value naming title", e)
	}
	if e := Check([]byte(`{"title":"\u0000"}`)); e != nil {
		t.Fatalf("Check refuses a nul: %+v", e)
	}
	if e := CheckStored([]byte(`{"title":"ok"}`)); e != nil {
		t.Fatalf("plain body refused: %+v", e)
	}
}

// The scan of a hostile body must not allocate per byte.
func TestScanAllocations(t *testing.T) {
	body := []byte(strings.Repeat(`{"a":"\u0000",`, 1000))
	if n := testing.AllocsPerRun(10, func() { Scan(body, MaxDepth) }); n > 1 {
		t.Fatalf("Scan allocates %v times", n)
	}
}

func BenchmarkScanChatBody(b *testing.B) {
	body := []byte(`{"model":"jan-v1-4b","messages":[` + strings.Repeat(`{"role":"user","content":"`+strings.Repeat("lorem ipsum dolor sit amet ", 40)+`"},`, 100) + `{"role":"user","content":"hi"}]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Scan(body, MaxDepth)
	}
}

// naiveScan is Scan written byte by byte, the reference FuzzScan compares
// the fast string skipping with.
func naiveScan(b []byte, maxDepth int) (tooDeep, nul bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return true, nul
			}
		case '}', ']':
			depth--
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' && i+1 < len(b) {
					if i+5 < len(b) && string(b[i+1:i+6]) == "u0000" {
						nul = true
					}
					i++
				}
			}
		}
	}
	return false, nul
}

func FuzzScan(f *testing.F) {
	for _, seed := range []string{`{"a":"\u0000"}`, `{"a":"\\u0000"}`, `[[["\"]"]]]`, `{"a":"x\`, `{"k\u0000":[1,{"b":"\\"}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Scan(b, 8)
		tooDeep, nul := naiveScan(b, 8)
		if got.TooDeep != tooDeep || (!tooDeep && got.NUL != nul) {
			t.Fatalf("Scan(%q) = %+v, naive: tooDeep %v nul %v", b, got, tooDeep, nul)
		}
	})
}
