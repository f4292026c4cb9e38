package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdjust(t *testing.T) {
	temp, topP := 0.7, 1.0
	spec := Adjustment{Temperature: &temp, TopP: &topP}
	const msgs = `"messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name, body string
		adj        Adjustment
		want       string // "" means the body comes back unchanged
	}{
		{"defaults added", `{"model":"m",` + msgs + `}`, spec, `{"model":"m",` + msgs + `,"temperature":0.7,"top_p":1}`},
		{"client values kept", `{"model":"m","temperature":0.2,"top_p":0.5,` + msgs + `}`, spec, ""},
		{"null replaced", `{"model":"m","temperature":null,` + msgs + `,"top_p":0.5}`, spec, `{"model":"m",` + msgs + `,"top_p":0.5,"temperature":0.7}`},
		{"no defaults", `{"model":"m",` + msgs + `}`, Adjustment{}, ""},
		{"tools dropped", `{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","parallel_tool_calls":true,` + msgs + `,"seed":1}`,
			Adjustment{DropTools: true}, `{"model":"m",` + msgs + `,"seed":1}`},
		{"tools kept", `{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],` + msgs + `}`, Adjustment{}, ""},
		{"nothing to drop", `{"model":"m",` + msgs + `}`, Adjustment{DropTools: true}, ""},
		{"system messages inserted, every other byte kept", ` {"model":"m", ` + msgs + ` ,"seed":1}`, Adjustment{SystemMessages: []string{"Be \"brief\".", "Profile"}},
			`{"model":"m","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"system","content":"Profile"},{"role":"user","content":"x"}],"seed":1}`},
		{"messages replaced (media resolved), then the system message", `{"model":"m",` + msgs + `}`,
			Adjustment{Messages: []byte(`[{"role":"user","content":"y"}]`), SystemMessages: []string{"S"}},
			`{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"y"}]}`},
		{"messages replaced alone", `{"model":"m",` + msgs + `}`, Adjustment{Messages: []byte(`[{"role":"user","content":"y"}]`)},
			`{"model":"m","messages":[{"role":"user","content":"y"}]}`},
		{"both, whitespace", ` { "tool_choice" : "none" , "model" : "m" , ` + msgs + ` } `, Adjustment{Temperature: &temp, DropTools: true},
			`{"model":"m",` + msgs + `,"temperature":0.7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			req, aerr := ParseChatRequest(body)
			if aerr != nil {
				t.Fatalf("parse: %v", aerr)
			}
			got := req.Adjust(body, tt.adj)
			if tt.want == "" {
				if &got[0] != &body[0] {
					t.Fatalf("body changed: %s", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			// The request now describes the new body: the upstream rewrite
			// works from its positions without another parse.
			if up := req.UpstreamBody(got, "Upstream/Model"); string(up) != strings.Replace(string(got), `"model":"m"`, `"model":"Upstream/Model"`, 1) {
				t.Fatalf("rewrite of the adjusted body: %s", up)
			}
			if tt.adj.DropTools && req.HasToolMembers() {
				t.Fatalf("tool members remain after DropTools")
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	if aerr := ValidateMessages([]byte(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://e/x.png"}}]}]`)); aerr != nil {
		t.Fatalf("valid messages refused: %v", aerr)
	}
	for _, bad := range []string{`[]`, `{"role":"user"}`, `[{"role":"bogus","content":"x"}]`, `[{"role":"user","content":"x"}`, "[{\"role\":\"user\",\"content\":\"\xff\"}]"} {
		if aerr := ValidateMessages([]byte(bad)); aerr == nil || aerr.Status != 400 {
			t.Errorf("ValidateMessages(%s) = %v, want a 400", bad, aerr)
		}
	}
}

func TestImageParam(t *testing.T) {
	req, aerr := ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://e/x.png"}},{"type":"image_url","image_url":{"url":"https://e/y.png"}}]}]}`))
	if aerr != nil {
		t.Fatal(aerr)
	}
	if p, ok := req.ImageParam(); !ok || p != "messages[1].content[1]" {
		t.Fatalf("ImageParam = %q %v", p, ok)
	}
	req, _ = ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`))
	if p, ok := req.ImageParam(); ok {
		t.Fatalf("ImageParam of a text-only request = %q", p)
	}
}

func TestAdjustSystemMessages(t *testing.T) {
	tests := []struct {
		name, body string
		system     []string
		want       string
	}{
		{"one", `{"model":"m","messages":[{"role":"user","content":"Hi"}],"x":{"keep": [1, 2]}}`, []string{"Be brief."},
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"x":{"keep": [1, 2]}}`},
		{"two, in order, before the client's own system message", `{"messages": [ {"role":"system","content":"Client"} , {"role":"user","content":"Hi"} ] ,"model":"m"}`,
			[]string{"Project <rule> & \"quote\"", "Profile\nline"},
			`{"messages":[{"role":"system","content":"Project \u003crule\u003e \u0026 \"quote\""},{"role":"system","content":"Profile\nline"}, {"role":"system","content":"Client"} , {"role":"user","content":"Hi"} ],"model":"m"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := []byte(tt.body)
			req, aerr := ParseChatRequest(orig)
			if aerr != nil {
				t.Fatal(aerr)
			}
			got := req.Adjust(orig, Adjustment{SystemMessages: tt.system})
			if string(got) != tt.want {
				t.Errorf("body\n%s\nwant\n%s", got, tt.want)
			}
			if string(orig) != tt.body {
				t.Errorf("the client's body changed: %s", orig)
			}
			if req.Model != "m" || !json.Valid(got) {
				t.Errorf("parsed %+v", req)
			}
			// The adjusted request builds the upstream body from the new
			// positions, without another parse.
			if up := req.UpstreamBody(got, "upstream-m"); !strings.Contains(string(up), `"model":"upstream-m"`) || !strings.Contains(string(up), tt.system[0][:7]) {
				t.Errorf("upstream body %s", up)
			}
		})
	}
}
