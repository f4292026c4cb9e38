package openai

import (
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
