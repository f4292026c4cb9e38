package mock

import "testing"

// The gateway sends the spec's sampling defaults (temperature 0.7, top_p
// 1.0) with every request that omits them: the mock's answers must not
// depend on them, so that it stays deterministic.
func TestAnswerIgnoresSampling(t *testing.T) {
	p, _ := New(Config{})
	plain, _ := complete(t, p, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}]}`)
	for _, body := range []string{
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"temperature":0.7,"top_p":1}`,
		`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"temperature":2,"top_p":0.1}`,
	} {
		got, _ := complete(t, p, body)
		if *got.Choices[0].Message.Content != *plain.Choices[0].Message.Content || *got.Usage != *plain.Usage {
			t.Errorf("%s: answer %q, want %q", body, *got.Choices[0].Message.Content, *plain.Choices[0].Message.Content)
		}
	}
}
