// Package memprompt is the protocol between the memory observer and the
// extraction model: the system prompt that asks for durable facts, the
// transcript of a turn it is given, the line format of the answer and its
// parser, and the deterministic answer the mock provider gives (Mock), so
// that memory works, and is tested, with no network.
//
// It is a leaf package: the mock provider imports it without importing the
// memory feature.
package memprompt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Marker opens SystemPrompt. A provider that sees it as the first system
// message knows the request is a memory extraction (the mock answers it
// with Mock).
const Marker = "[memory-extraction]"

// SystemPrompt asks a model for the durable facts of a turn in the line
// format Parse reads.
const SystemPrompt = Marker + ` You maintain a long-term memory of a user for an assistant.
Read the conversation turn below and write down only durable facts worth remembering in later conversations: who the user is, what they do, like, own, plan or prefer; and, when the turn belongs to a project, facts about that project. Skip small talk, questions, and anything only true for this moment.
Answer with one line per fact and nothing else, in this format:
USER: <a fact about the user, as one short sentence>
PROJECT: <a fact about the project, as one short sentence>
SUMMARY: <one sentence summing up what the turn was about>
Write at most 5 USER and 5 PROJECT lines and exactly one SUMMARY line. Write NONE if there is nothing to remember.`

// Prefixes of the answer's lines.
const (
	prefixUser    = "USER:"
	prefixProject = "PROJECT:"
	prefixSummary = "SUMMARY:"
	// Transcript lines.
	transcriptUser      = "User: "
	transcriptAssistant = "Assistant: "
	transcriptProject   = "This turn belongs to a project."
)

// MaxFactLength is the longest fact or summary kept from an answer, in
// characters; longer ones are cut.
const MaxFactLength = 500

// maxTranscriptPart bounds each side of a transcript, in characters: a
// turn's facts are in what was said, not in pages of pasted text.
const maxTranscriptPart = 4000

// TranscriptPart returns what a transcript keeps of one side of a turn, so
// that what waits to be observed is no larger than what is sent.
func TranscriptPart(text string) string {
	return cut(strings.TrimSpace(text), maxTranscriptPart)
}

// Transcript is the user message of an extraction request for one turn.
func Transcript(user, assistant string, inProject bool) string {
	var b strings.Builder
	if inProject {
		b.WriteString(transcriptProject)
		b.WriteString("\n")
	}
	b.WriteString(transcriptUser)
	b.WriteString(TranscriptPart(user))
	b.WriteString("\n")
	b.WriteString(transcriptAssistant)
	b.WriteString(TranscriptPart(assistant))
	return b.String()
}

// Extraction is what an extraction answer says.
type Extraction struct {
	// User are facts about the user; Project facts about the turn's
	// project.
	User, Project []string
	// Summary is one sentence about the turn, empty when none was given.
	Summary string
}

// Parse reads an extraction answer. Lines it does not know are ignored, so
// that a chatty model's preamble costs nothing; at most 5 facts of each
// kind are kept.
func Parse(answer string) Extraction {
	const maxPerKind = 5
	var out Extraction
	for line := range strings.SplitSeq(answer, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "-*• "))
		switch {
		case hasPrefixFold(line, prefixUser):
			if f := fact(line[len(prefixUser):]); f != "" && len(out.User) < maxPerKind {
				out.User = append(out.User, f)
			}
		case hasPrefixFold(line, prefixProject):
			if f := fact(line[len(prefixProject):]); f != "" && len(out.Project) < maxPerKind {
				out.Project = append(out.Project, f)
			}
		case hasPrefixFold(line, prefixSummary):
			if out.Summary == "" {
				out.Summary = fact(line[len(prefixSummary):])
			}
		}
	}
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func fact(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return ""
	}
	return cut(s, MaxFactLength)
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}

// userStatements are the openings of the sentences the mock takes for
// durable facts about the user.
var userStatements = []string{"i am ", "i'm ", "my ", "i work ", "i like ", "i love ", "i live ", "i have ", "i prefer ", "i use "}

// projectStatements are the openings of the sentences the mock takes for
// facts about a project.
var projectStatements = []string{"the project ", "this project ", "our project ", "we use ", "we are building ", "we're building "}

// Mock is the mock provider's answer to an extraction request whose last
// user message is transcript: every sentence of the user's part that opens
// like a statement about themselves ("I am", "I'm", "My", "I work", "I
// like", "I love", "I live", "I have", "I prefer", "I use") is a USER fact,
// and, in a project's turn, every one that opens like a statement about
// the project ("The project", "This project", "Our project", "We use", "We
// are building") a PROJECT fact, each word for word; the SUMMARY is "The
// user said: " and the user's first sentence. A turn with nothing to say
// is NONE.
func Mock(transcript string) string {
	inProject := strings.HasPrefix(transcript, transcriptProject+"\n")
	var user string
	if i := strings.Index(transcript, transcriptUser); i >= 0 {
		user = transcript[i+len(transcriptUser):]
		if j := strings.LastIndex(user, "\n"+transcriptAssistant); j >= 0 {
			user = user[:j]
		}
	}
	sentences := Sentences(user)
	if len(sentences) == 0 {
		return "NONE"
	}
	var b strings.Builder
	for _, s := range sentences {
		lower := strings.ToLower(s)
		switch {
		case opensWith(lower, userStatements):
			b.WriteString(prefixUser + " " + s + "\n")
		case inProject && opensWith(lower, projectStatements):
			b.WriteString(prefixProject + " " + s + "\n")
		}
	}
	b.WriteString(prefixSummary + " The user said: " + sentences[0])
	return b.String()
}

func opensWith(s string, openings []string) bool {
	for _, o := range openings {
		if strings.HasPrefix(s, o) {
			return true
		}
	}
	return false
}

// Sentences splits text into its sentences (ending at '.', '!', '?' or a
// line break), trimmed, with their final punctuation.
func Sentences(text string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" && strings.IndexFunc(s, isWordRune) >= 0 {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range text {
		switch r {
		case '.', '!', '?':
			flush(i + 1)
		case '\n':
			flush(i)
		}
	}
	flush(len(text))
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
