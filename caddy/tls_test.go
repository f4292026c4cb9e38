package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// A site with `tls internal` serves the API over HTTPS with HTTP/2 and
// HTTP/1.1, and its HTTP port redirects to HTTPS. Clients trust the local
// CA by its root certificate in Caddy's storage.
func TestTLSInternal(t *testing.T) {
	httpPort, httpsPort := freePort(t), freePort(t)
	dataDir := t.TempDir()
	caddyfile := fmt.Sprintf(`{
	admin off
	storage file_system %s
	http_port %d
	skip_install_trust
	log {
		level error
	}
}

localhost:%d {
	tls internal
	route {
		llm_auth
		llm_api
	}
	handle_errors {
		llm_error
	}
}
`, dataDir, httpPort, httpsPort)
	loadConfig(t, caddyfile)
	t.Cleanup(func() { _ = caddy.Stop() })

	root := filepath.Join(dataDir, "pki", "authorities", "local", "root.crt")
	var pem []byte
	waitFor(t, 10*time.Second, func() (string, bool) {
		var err error
		pem, err = os.ReadFile(root)
		return root, err == nil
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the local CA's root certificate does not parse")
	}

	base := fmt.Sprintf("https://localhost:%d", httpsPort)
	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: proto == "HTTP/2.0"}
		if proto == "HTTP/1.1" {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		var resp *http.Response
		waitFor(t, 10*time.Second, func() (error, bool) { // the certificate is issued at start
			var err error
			resp, err = client.Get(base + "/v1/healthz")
			return err, err == nil
		})
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Proto != proto {
			t.Fatalf("%s healthz = %d %s (%s)", proto, resp.StatusCode, body, resp.Proto)
		}
		login, err := client.Post(base+"/llm/auth/guest-login", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		login.Body.Close()
		if login.StatusCode != http.StatusCreated {
			t.Fatalf("%s guest login = %d", proto, login.StatusCode)
		}
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(fmt.Sprintf("http://localhost:%d/v1/healthz", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != base+"/v1/healthz" {
		t.Fatalf("plain HTTP = %d to %q, want 308 to %s/v1/healthz", resp.StatusCode, resp.Header.Get("Location"), base)
	}
}
