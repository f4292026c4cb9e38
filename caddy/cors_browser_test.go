package main

// A real browser as Jan's web app: a page served from another origin logs in
// as a guest through /auth/guest-login, streams a chat completion reading the
// SSE body as it arrives, and reads the rate-limit headers, all with fetch in
// headless Chromium.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// chromiumPath finds headless Chromium. ./xcaddy.sh test installs Debian's
// chromium package when it runs as root; elsewhere, install it to run the
// browser tests.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed: the browser test needs it (./xcaddy.sh test installs Debian's chromium package as root; or apt-get install chromium)")
	return ""
}

// browserResult is what the test page reports.
type browserResult struct {
	Error          string `json:"error"`
	LoginStatus    int    `json:"login_status"`
	LoginRequestID string `json:"login_request_id"`
	GotToken       bool   `json:"got_token"`
	ChatStatus     int    `json:"chat_status"`
	RateLimit      string `json:"rate_limit"`
	RateRemaining  string `json:"rate_remaining"`
	RateReset      string `json:"rate_reset"`
	ChatRequestID  string `json:"chat_request_id"`
	AuthMethod     string `json:"auth_method"`
	Reads          int    `json:"reads"`
	ContentAtReads []int  `json:"content_at_reads"`
	Content        string `json:"content"`
	Done           bool   `json:"done"`
	LimitedStatus  int    `json:"limited_status"`
	RetryAfter     string `json:"retry_after"`
	LimitedCode    string `json:"limited_code"`
	LimitedRemain  string `json:"limited_remaining"`
	Statuses       []int  `json:"statuses"`
}

const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>jan web app</title></head>
<body><pre id="out">running</pre>
<script>
const api = %q;
async function run() {
	const res = {statuses: []};
	// Guest login through the /auth alias, with credentials (the refresh
	// cookie), as Jan's web app does.
	const login = await fetch(api + "/auth/guest-login", {method: "POST", credentials: "include"});
	res.login_status = login.status;
	res.login_request_id = login.headers.get("X-Request-Id") || "";
	const token = (await login.json()).access_token;
	res.got_token = !!token;
	const headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json", "X-Stainless-Lang": "js"};

	// A streamed chat completion, read chunk by chunk as it arrives.
	const chat = await fetch(api + "/v1/chat/completions", {
		method: "POST", credentials: "include", headers,
		body: JSON.stringify({model: "served-a", stream: true, messages: [{role: "user", content: "Hi"}]}),
	});
	res.chat_status = chat.status;
	res.rate_limit = chat.headers.get("X-RateLimit-Limit") || "";
	res.rate_remaining = chat.headers.get("X-RateLimit-Remaining") || "";
	res.rate_reset = chat.headers.get("X-RateLimit-Reset") || "";
	res.chat_request_id = chat.headers.get("X-Request-Id") || "";
	res.auth_method = chat.headers.get("X-Auth-Method") || "";
	const reader = chat.body.getReader();
	const dec = new TextDecoder();
	let buf = "", content = "";
	res.reads = 0;
	res.content_at_reads = [];
	for (;;) {
		const {done, value} = await reader.read();
		if (done) break;
		res.reads++;
		buf += dec.decode(value, {stream: true});
		let i;
		while ((i = buf.indexOf("\n\n")) >= 0) {
			const ev = buf.slice(0, i); buf = buf.slice(i + 2);
			for (const line of ev.split("\n")) {
				if (!line.startsWith("data: ")) continue;
				const data = line.slice(6);
				if (data === "[DONE]") { res.done = true; continue; }
				const c = JSON.parse(data);
				if (c.choices && c.choices[0] && c.choices[0].delta && c.choices[0].delta.content) {
					content += c.choices[0].delta.content;
				}
			}
		}
		res.content_at_reads.push(content.length);
	}
	res.content = content;

	// More chats until the guest tier refuses one: the page reads the 429.
	for (let n = 0; n < 6; n++) {
		const r = await fetch(api + "/v1/chat/completions", {
			method: "POST", credentials: "include", headers,
			body: JSON.stringify({model: "served-a", messages: [{role: "user", content: "Hi"}]}),
		});
		res.statuses.push(r.status);
		if (r.status === 429) {
			res.limited_status = r.status;
			res.retry_after = r.headers.get("Retry-After") || "";
			res.limited_remaining = r.headers.get("X-RateLimit-Remaining") || "";
			res.limited_code = (await r.json()).error.code;
			break;
		}
		await r.text();
	}
	return res;
}
function report(r) {
	document.getElementById("out").textContent = JSON.stringify(r);
	fetch("/result", {method: "POST", body: JSON.stringify(r)});
}
run().then(report, e => report({error: String(e)}));
</script></body></html>`

// Jan's web app in headless Chromium, from another origin: guest login,
// a streamed chat read incrementally, and the rate-limit headers of a
// success and of a 429, all through CORS.
func TestCORSBrowserClient(t *testing.T) {
	chromium := chromiumPath(t)
	const chunkDelay = 150 * time.Millisecond
	upstream := providertest.NewUpstream(t, &providertest.OpenAIServer{
		Reply:      "one two three four five six",
		Models:     []string{"served-a"},
		ChunkDelay: chunkDelay,
	})

	// The page's own origin: another port on loopback.
	results := make(chan browserResult, 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/result":
			var res browserResult
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err := json.Unmarshal(body, &res); err != nil {
				res.Error = "undecodable result: " + string(body)
			}
			select {
			case results <- res:
			default:
			}
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, browserPage, pageAPI)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)

	g, _ := startDefaultGateway(t,
		"CORS_ALLOWED_ORIGINS", page.URL,
		"INFERENCE_BASE_URL", upstream.URL+"/v1",
		"RATE_LIMIT_GUEST", "2/min",
		"RATE_LIMIT_PER_IP", "1000/min")
	pageAPI = g.base
	waitForModel(t, g, "served-a")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), page.URL+"/")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	var res browserResult
	select {
	case res = <-results:
	case <-time.After(60 * time.Second):
		t.Fatalf("the page reported nothing within 60s; chromium's output:\n%s", logs.String())
	}
	if res.Error != "" {
		t.Fatalf("the page failed: %s\nchromium's output:\n%s", res.Error, logs.String())
	}
	t.Logf("browser result: %+v", res)

	if res.LoginStatus != http.StatusCreated || !res.GotToken || res.LoginRequestID == "" {
		t.Errorf("guest login from the page: status %d, token %v, X-Request-Id %q", res.LoginStatus, res.GotToken, res.LoginRequestID)
	}
	if res.ChatStatus != http.StatusOK || res.AuthMethod != "jwt" || res.ChatRequestID == "" {
		t.Errorf("chat from the page: status %d, X-Auth-Method %q, X-Request-Id %q", res.ChatStatus, res.AuthMethod, res.ChatRequestID)
	}
	if res.RateLimit != "2" || res.RateRemaining == "" || res.RateReset == "" {
		t.Errorf("the page read X-RateLimit-Limit %q, -Remaining %q, -Reset %q; want 2 and values", res.RateLimit, res.RateRemaining, res.RateReset)
	}
	if res.Content != "one two three four five six" || !res.Done {
		t.Errorf("streamed content %q (done %v), want the upstream's reply and [DONE]", res.Content, res.Done)
	}
	// The body arrived in pieces, with content before the end: the page read
	// the stream as it came, not the whole answer at once.
	if res.Reads < 3 || len(res.ContentAtReads) == 0 || res.ContentAtReads[0] >= len(res.Content) {
		t.Errorf("stream read in %d pieces, content lengths at each %v: not incremental", res.Reads, res.ContentAtReads)
	}
	if res.LimitedStatus != http.StatusTooManyRequests || res.LimitedCode != "rate_limit_exceeded" || res.RetryAfter == "" || res.LimitedRemain != "0" {
		t.Errorf("429 as the page saw it: status %d (all %v), code %q, Retry-After %q, X-RateLimit-Remaining %q",
			res.LimitedStatus, res.Statuses, res.LimitedCode, res.RetryAfter, res.LimitedRemain)
	}
	if t.Failed() {
		t.Logf("chromium's output:\n%s", logs.String())
	}
}

// pageAPI is the gateway's URL the page calls, set before the browser
// starts.
var pageAPI string

// waitForModel waits until the gateway lists the model (discovered from an
// upstream in the background).
func waitForModel(t *testing.T, g *gateway, model string) {
	t.Helper()
	token := guestToken(t, g)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := g.do("GET", "/v1/models", nil, bearerHeader(token)...)
		if r.Status == http.StatusOK && strings.Contains(string(r.Body), `"`+model+`"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("model %s was not served within 10s", model)
}
