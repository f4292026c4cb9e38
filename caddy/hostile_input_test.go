package main

// Hostile input (issue #12, findings 1, 3, 5 and 6): each attack is replayed
// against the default Caddyfile as shipped, run as a separate gateway
// process on PostgreSQL and Redis, and the process must answer 4xx in the
// spec's shape, keep serving, stay within a memory budget and log no ERROR.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store/storetest"
)

// hostileRSSBudget is the most resident memory the gateway may use after any
// of the attacks below; it idles at about 60 MB.
const hostileRSSBudget = 300 << 20

// hostileGateway is the default Caddyfile running in its own process.
type hostileGateway struct {
	*gateway
	proc *process
	auth []string // Authorization of a guest
}

// startHostileGateway runs the default Caddyfile in a process of its own,
// on a fresh PostgreSQL database and a Redis of its own, with JSON logs and
// rate limits high enough for the attacks to reach the handlers.
func startHostileGateway(t *testing.T) *hostileGateway {
	t.Helper()
	dsn := storetest.NewPostgresDatabase(t)
	rs := startRedis(t, 0)
	gw, svc := freePort(t), freePort(t)
	p := startProcess(t, withPorts(defaultCaddyfile(t), gw, svc),
		"DATABASE_URL="+dsn, "DB_POSTGRESQL_WRITE_DSN=", "REDIS_URL="+rs.url(),
		"LOG_FORMAT=json", "LOG_LEVEL=info",
		"RATE_LIMIT_PER_IP=1000000/min", "RATE_LIMIT_GUEST=1000000/min", "RATE_LIMIT_USER=1000000/min",
		"INFERENCE_BASE_URL=", "OPENAI_API_KEY=", "ANTHROPIC_API_KEY=", "MEDIA_RESOLVE_URL=",
		"JWKS_URL=", "KEYCLOAK_BASE_URL=")
	base := fmt.Sprintf("http://127.0.0.1:%d", gw)
	waitHTTP(t, base+"/v1/healthz", 90*time.Second)
	h := &hostileGateway{
		gateway: &gateway{t: t, base: base, client: &http.Client{Timeout: 60 * time.Second}},
		proc:    p,
	}
	h.auth = []string{"Authorization", "Bearer " + guestToken(t, h.gateway)}
	return h
}

// rss returns the gateway process's resident memory, from /proc.
func (h *hostileGateway) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.proc.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the gateway's memory: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// checkBudget logs the gateway's RSS after an attack and asserts the budget.
func (h *hostileGateway) checkBudget(t *testing.T, attack string, rss int64) {
	t.Helper()
	t.Logf("RSS after %s: %.1f MB (budget %d MB)", attack, float64(rss)/(1<<20), hostileRSSBudget>>20)
	if rss > hostileRSSBudget {
		t.Errorf("RSS after %s is %.1f MB, above the %d MB budget", attack, float64(rss)/(1<<20), hostileRSSBudget>>20)
	}
}

// checkServing asserts the process is alive and serves: health, a chat
// completion and a stored conversation.
func (h *hostileGateway) checkServing(t *testing.T) {
	t.Helper()
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", h.proc.cmd.Process.Pid)); err != nil || strings.Contains(string(st), ") Z ") {
		t.Fatalf("the gateway process is gone (%v); logs:\n%s", err, tail(h.proc.logs.String(), 4000))
	}
	if r := h.do("GET", "/v1/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz after the attack = %d %s", r.Status, r.Body)
	}
	r := h.do("POST", "/v1/chat/completions", map[string]any{
		"model": "jan-v1-4b", "max_tokens": 5, "store": true,
		"messages": []map[string]any{{"role": "user", "content": "still there?"}},
	}, h.auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("chat after the attack = %d %s", r.Status, r.Body)
	}
	if r := h.do("GET", "/v1/conversations", nil, h.auth...); r.Status != http.StatusOK {
		t.Fatalf("listing conversations after the attack = %d %s", r.Status, r.Body)
	}
}

// checkLogs asserts the process logged no ERROR (nor a Go runtime crash)
// since offset, and returns the new offset.
func (h *hostileGateway) checkLogs(t *testing.T, offset int) int {
	t.Helper()
	logs := h.proc.logs.String()
	for line := range strings.Lines(logs[offset:]) {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if strings.HasPrefix(line, "fatal error") || strings.HasPrefix(line, "panic:") {
			t.Errorf("the gateway crashed: %s", line)
			continue
		}
		if json.Unmarshal([]byte(line), &entry) == nil && (entry.Level == "error" || entry.Level == "fatal" || entry.Level == "panic") {
			t.Errorf("client input produced an %s log line: %s", strings.ToUpper(entry.Level), tail(line, 600))
		}
	}
	return len(logs)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// wantInvalid asserts a 400 in the spec's shape with the code and param.
func wantInvalid(t *testing.T, what string, r response, code, param string) {
	t.Helper()
	if r.Status != http.StatusBadRequest {
		t.Errorf("%s: status %d, want 400; body: %.300s", what, r.Status, r.Body)
		return
	}
	e := wantError(t, r, http.StatusBadRequest, code)
	if param != "" && e["param"] != param {
		t.Errorf("%s: param %v, want %q; body: %.300s", what, e["param"], param, r.Body)
	}
}

// Finding 1: deeply nested JSON once made gjson recurse until the Go runtime
// killed the process ("fatal error: stack overflow"), with every listener,
// stream and MCP session in it. Every JSON entry point now refuses nesting
// deeper than 64 levels with a 400 before any recursive parser runs.
func TestHostileDeepNesting(t *testing.T) {
	h := startHostileGateway(t)
	logs := h.checkLogs(t, 0)

	conv := h.do("POST", "/v1/conversations", map[string]any{"title": "target"}, h.auth...)
	if conv.Status != http.StatusOK {
		t.Fatalf("creating a conversation = %d %s", conv.Status, conv.Body)
	}
	convID, _ := conv.JSON(t)["id"].(string)

	huge := strings.Repeat("[", 6<<20)    // the report's crash: 6 MB of "["
	small := strings.Repeat("[", 600<<10) // within the 1 MB bodies of settings and projects
	// Valid JSON, nested too deeply inside an otherwise plausible request.
	validDeep := func(prefix string) string {
		return prefix + strings.Repeat(`{"a":[`, 5000) + strings.Repeat(`]}`, 5000) + "}"
	}
	attacks := []struct {
		method, path, body string
	}{
		{"POST", "/v1/chat/completions", huge},
		{"POST", "/v1/chat/completions", validDeep(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"hi"}],"metadata":`)},
		{"POST", "/llm/v1/chat/completions", `{"model":"jan-v1-4b","messages":` + huge},
		{"POST", "/v1/mcp", huge},
		{"POST", "/v1/mcp", validDeep(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":`)},
		{"POST", "/v1/mcp", validDeep(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"hi"}],"x":`)},
		{"POST", "/v1/conversations", huge},
		{"POST", "/v1/conversations", validDeep(`{"title":"t","metadata":`)},
		{"POST", "/v1/conversations/" + convID, validDeep(`{"metadata":`)},
		{"POST", "/v1/conversations/" + convID + "/items", validDeep(`{"items":`)},
		{"POST", "/v1/projects", small},
		{"PATCH", "/v1/users/me/settings", validDeep(`{"preferences":`)},
		{"POST", "/llm/auth/refresh-token", validDeep(`{"refresh_token":`)},
	}
	var peak int64
	for _, a := range attacks {
		r := h.do(a.method, a.path, a.body, h.auth...)
		wantInvalid(t, fmt.Sprintf("%s %s (%d bytes)", a.method, a.path, len(a.body)), r, "invalid_json", "")
		peak = max(peak, h.rss(t))
	}
	h.checkServing(t)
	h.checkBudget(t, "deep nesting", max(peak, h.rss(t)))

	// Nesting within the limit still works: preferences 60 levels deep.
	prefs := strings.Repeat(`{"a":`, 59) + `1` + strings.Repeat(`}`, 59)
	if r := h.do("PATCH", "/v1/users/me/settings", `{"preferences":`+prefs+`}`, h.auth...); r.Status != http.StatusOK {
		t.Errorf("preferences nested 60 levels deep = %d %.300s", r.Status, r.Body)
	}
	h.checkLogs(t, logs)
}

// Finding 3: stored fields had no cap (a list of ten 8 MB titles weighed
// 84 MB; preferences grew with every PATCH). Every stored field is capped
// with a 400 invalid_value naming it, merged preferences are bounded, and a
// list page carries at most about 1 MB however large its records are.
func TestHostileStoredSizes(t *testing.T) {
	h := startHostileGateway(t)
	logs := h.checkLogs(t, 0)
	auth := h.auth

	long := func(n int) string { return strings.Repeat("é", n) } // characters, two bytes each
	wantInvalid(t, "8 MB title", h.do("POST", "/v1/conversations", map[string]any{"title": strings.Repeat("t", 7<<20)}, auth...), "invalid_value", "title")
	wantInvalid(t, "257-character title", h.do("POST", "/v1/conversations", map[string]any{"title": long(257)}, auth...), "invalid_value", "title")
	conv := h.do("POST", "/v1/conversations", map[string]any{"title": long(256)}, auth...)
	if conv.Status != http.StatusOK {
		t.Fatalf("256-character title = %d %.300s", conv.Status, conv.Body)
	}
	convID, _ := conv.JSON(t)["id"].(string)
	wantInvalid(t, "renaming to 257 characters", h.do("POST", "/v1/conversations/"+convID, map[string]any{"title": long(257)}, auth...), "invalid_value", "title")
	wantInvalid(t, "a 600-character metadata value", h.do("POST", "/v1/conversations/"+convID, map[string]any{"metadata": map[string]string{"k": long(600)}}, auth...), "invalid_value", "metadata.k")

	t.Logf("RSS after the large titles: %.1f MB", float64(h.rss(t))/(1<<20))

	// Item content: 512 KiB per item, all parts together.
	const itemMax = 512 << 10
	wantInvalid(t, "an item one byte too long", h.do("POST", "/v1/conversations/"+convID+"/items", map[string]any{
		"items": []map[string]any{{"type": "message", "role": "user", "content": []map[string]any{
			{"type": "input_text", "text": strings.Repeat("a", itemMax/2)},
			{"type": "input_text", "text": strings.Repeat("a", itemMax/2+1)},
		}}},
	}, auth...), "invalid_value", "items[0].content")
	wantInvalid(t, "a stored chat message of 600 KB", h.do("POST", "/v1/chat/completions", map[string]any{
		"model": "jan-v1-4b", "max_tokens": 3, "conversation": convID,
		"messages": []map[string]any{{"role": "user", "content": strings.Repeat("a", 600<<10)}},
	}, auth...), "invalid_value", "messages[0].content")

	// Projects: instruction up to 32768 characters.
	wantInvalid(t, "a 32769-character instruction", h.do("POST", "/v1/projects", map[string]any{"name": "p", "instruction": long(32769)}, auth...), "invalid_value", "instruction")
	proj := h.do("POST", "/v1/projects", map[string]any{"name": "p", "instruction": long(32768)}, auth...)
	if proj.Status != http.StatusCreated {
		t.Fatalf("a 32768-character instruction = %d %.300s", proj.Status, proj.Body)
	}
	projID, _ := proj.JSON(t)["id"].(string)
	wantInvalid(t, "patching a 32769-character instruction", h.do("PATCH", "/v1/projects/"+projID, map[string]any{"instruction": long(32769)}, auth...), "invalid_value", "instruction")

	// Settings: profile strings (sent with every prompt) and preferences.
	for field, n := range map[string]int{"nick_name": 129, "occupation": 257, "custom_instructions": 4097, "more_about_you": 4097} {
		wantInvalid(t, field, h.do("PATCH", "/v1/users/me/settings", map[string]any{"profile_settings": map[string]any{field: long(n)}}, auth...),
			"invalid_value", "profile_settings."+field)
	}
	// Preferences merge PATCH after PATCH: the merged total is bounded.
	refused := 0
	for i := range 10 {
		r := h.do("PATCH", "/v1/users/me/settings", map[string]any{"preferences": map[string]any{fmt.Sprint("k", i): strings.Repeat("v", 20<<10)}}, auth...)
		if r.Status == http.StatusBadRequest {
			wantInvalid(t, "growing preferences", r, "invalid_value", "preferences")
			refused++
		} else if r.Status != http.StatusOK {
			t.Fatalf("PATCH preferences = %d %.300s", r.Status, r.Body)
		}
	}
	if refused == 0 {
		t.Error("ten PATCHes of 20 KB preferences each were all merged: preferences are unbounded")
	}
	if s := h.do("GET", "/v1/users/me/settings", nil, auth...); s.Status != http.StatusOK || len(s.Body) > 80<<10 {
		t.Errorf("settings after the growing PATCHes: %d, %d bytes", s.Status, len(s.Body))
	}

	// Page bytes: items of the largest size, of a character JSON escapes
	// six fold (\x01 is written \u0001), listed 100 at a time.
	big := strings.Repeat("\x01", itemMax)
	for range 6 {
		r := h.do("POST", "/v1/conversations/"+convID+"/items", map[string]any{"items": []map[string]any{
			{"type": "message", "role": "user", "content": big},
			{"type": "message", "role": "assistant", "content": big},
		}}, auth...)
		if r.Status != http.StatusOK {
			t.Fatalf("appending items of the largest size = %d %.300s", r.Status, r.Body)
		}
	}
	t.Logf("RSS after appending the largest items: %.1f MB", float64(h.rss(t))/(1<<20))
	seen, pages, after := 0, 0, ""
	for {
		r := h.do("GET", "/v1/conversations/"+convID+"/items?order=asc&limit=100"+after, nil, auth...)
		if r.Status != http.StatusOK {
			t.Fatalf("listing items = %d %.300s", r.Status, r.Body)
		}
		var page struct {
			Data    []json.RawMessage `json:"data"`
			LastID  string            `json:"last_id"`
			HasMore bool              `json:"has_more"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Data) > 1 {
			t.Errorf("a page of %d items weighing 3 MB each in JSON: pages are not bounded in bytes", len(page.Data))
		}
		seen += len(page.Data)
		pages++
		if !page.HasMore || pages > 20 {
			break
		}
		after = "&after=" + page.LastID
	}
	if seen != 12 {
		t.Errorf("paging through the items saw %d of 12", seen)
	}

	t.Logf("RSS after paging through them: %.1f MB", float64(h.rss(t))/(1<<20))

	// Six clients list the largest pages at once, a few rounds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak int64
	for range 6 {
		wg.Go(func() {
			for range 4 {
				req, _ := http.NewRequest("GET", h.base+"/v1/conversations/"+convID+"/items?limit=100", nil)
				req.Header.Set(auth[0], auth[1])
				if resp, err := h.client.Do(req); err == nil {
					_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
					resp.Body.Close()
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
		}
		rss := h.rss(t)
		mu.Lock()
		peak = max(peak, rss)
		mu.Unlock()
	}
	h.checkServing(t)
	h.checkBudget(t, "huge fields and six concurrent lists of the largest pages", peak)
	h.checkLogs(t, logs)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Finding 5: memory was reserved from Content-Length before the body
// arrived: 200 slow sockets that announced megabytes and sent 11 bytes took
// the gateway from 60 MB to 1.6 GB. Buffers now grow as bytes arrive.
func TestHostileSlowBodies(t *testing.T) {
	h := startHostileGateway(t)
	logs := h.checkLogs(t, 0)
	conv := h.do("POST", "/v1/conversations", map[string]any{"title": "slow"}, h.auth...)
	convID, _ := conv.JSON(t)["id"].(string)

	// Each route with a Content-Length just under its limit.
	targets := []struct {
		method, path string
		length       int
	}{
		{"POST", "/v1/chat/completions", 9_900_000},
		{"POST", "/v1/mcp", 9_900_000},
		{"POST", "/v1/conversations", 8_000_000},
		{"POST", "/v1/conversations/" + convID + "/items", 8_000_000},
		{"PATCH", "/v1/users/me/settings", 1_000_000},
	}
	addr := strings.TrimPrefix(h.base, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 200 {
		tg := targets[i%len(targets)]
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"model\":\"",
			tg.method, tg.path, addr, h.auth[0], h.auth[1], tg.length)
	}
	// The handlers are now waiting for bodies that do not come. Watch the
	// memory for a while.
	var peak int64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		peak = max(peak, h.rss(t))
		time.Sleep(50 * time.Millisecond)
	}
	h.checkBudget(t, "200 slow bodies with large Content-Length", peak)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	h.checkServing(t)
	h.checkLogs(t, logs)
}

// Finding 6: a NUL character ("\u0000") in a stored string was a 500 and an
// ERROR log line (PostgreSQL 22021 / 22P05). It is a 400 naming the field,
// and no client input makes the gateway log an ERROR.
func TestHostileNUL(t *testing.T) {
	h := startHostileGateway(t)
	logs := h.checkLogs(t, 0)
	auth := h.auth
	conv := h.do("POST", "/v1/conversations", map[string]any{"title": "nul"}, auth...)
	convID, _ := conv.JSON(t)["id"].(string)
	proj := h.do("POST", "/v1/projects", map[string]any{"name": "nul"}, auth...)
	projID, _ := proj.JSON(t)["id"].(string)

	cases := []struct {
		what, method, path, body, param string
	}{
		{"title", "POST", "/v1/conversations", `{"title":"a\u0000b"}`, "title"},
		{"metadata value", "POST", "/v1/conversations", `{"metadata":{"k":"\u0000"}}`, "metadata"},
		{"metadata key", "POST", "/v1/conversations/" + convID, `{"metadata":{"k\u0000":"v"}}`, "metadata"},
		{"new title", "POST", "/v1/conversations/" + convID, `{"title":"\u0000"}`, "title"},
		{"initial item", "POST", "/v1/conversations", `{"items":[{"role":"user","content":"a\u0000"}]}`, "items"},
		{"appended item", "POST", "/v1/conversations/" + convID + "/items", `{"items":[{"role":"user","content":[{"type":"input_text","text":"\u0000"}]}]}`, "items"},
		{"bare item", "POST", "/v1/conversations/" + convID + "/items", `{"role":"user","content":"\u0000"}`, "content"},
		{"project name", "POST", "/v1/projects", `{"name":"p\u0000"}`, "name"},
		{"project instruction", "PATCH", "/v1/projects/" + projID, `{"instruction":"\u0000"}`, "instruction"},
		{"profile string", "PATCH", "/v1/users/me/settings", `{"profile_settings":{"nick_name":"\u0000"}}`, "profile_settings"},
		{"preferences key", "PATCH", "/v1/users/me/settings", `{"preferences":{"\u0000":1}}`, "preferences"},
		{"preferences value", "PATCH", "/v1/users/me/settings", `{"preferences":{"a":{"b":"\u0000"}}}`, "preferences"},
		{"stored chat message", "POST", "/v1/chat/completions", `{"model":"jan-v1-4b","max_tokens":3,"store":true,"messages":[{"role":"user","content":"hi\u0000"}]}`, "messages[0].content"},
		{"chat message into a conversation", "POST", "/v1/chat/completions", `{"model":"jan-v1-4b","max_tokens":3,"conversation":"` + convID + `","messages":[{"role":"user","content":[{"type":"text","text":"\u0000"}]}]}`, "messages[0].content"},
	}
	for _, c := range cases {
		wantInvalid(t, c.what, h.do(c.method, c.path, c.body, auth...), "invalid_value", c.param)
	}
	// Ids in the path and cursors go to the database as they are.
	for _, path := range []string{
		"/v1/conversations/conv_%00",
		"/v1/conversations/" + convID + "/items/msg_%00",
		"/v1/conversations/" + convID + "/items?after=msg_%00",
		"/v1/conversations?after=conv_%00",
		"/v1/projects/proj_%00",
		"/v1/projects?cursor=proj_%00",
	} {
		r := h.do("GET", path, nil, auth...)
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("GET %s = %d, want a 4xx; body: %.300s", path, r.Status, r.Body)
		} else {
			wantError(t, r, r.Status, "")
		}
	}
	// A NUL elsewhere in a chat request is not stored: it still goes
	// upstream.
	if r := h.do("POST", "/v1/chat/completions", `{"model":"jan-v1-4b","max_tokens":3,"messages":[{"role":"user","content":"hi\u0000"}]}`, auth...); r.Status != http.StatusOK {
		t.Errorf("chat with a NUL that is not stored = %d %.300s", r.Status, r.Body)
	}
	h.checkServing(t)
	h.checkLogs(t, logs)
}
