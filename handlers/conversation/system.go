package conversation

import (
	"strings"

	"github.com/caddy-llm/gateway/store"
)

// profileIntro opens the system message built from a user's profile.
const profileIntro = "The user has set these preferences in their profile. Take them into account unless the user asks otherwise."

// defaultStyle is the base style of a user who never set one.
var defaultStyle = DefaultSettings().ProfileSettings.BaseStyle

// styleHints describe the spec's base styles to the model.
var styleHints = map[string]string{
	StyleConcise:      "short and direct, without filler",
	StyleFriendly:     "warm and conversational",
	StyleProfessional: "clear, precise and formal",
}

// SystemMessages returns the system messages a turn sends upstream before
// the client's messages: the project's instruction first, then the profile
// message; none when neither is set.
func SystemMessages(instruction string, profile store.ProfileSettings) []string {
	var out []string
	if s := strings.TrimSpace(instruction); s != "" {
		out = append(out, s)
	}
	if s := profileMessage(profile); s != "" {
		out = append(out, s)
	}
	return out
}

// profileMessage returns the system message of a user's profile settings,
// or "" when the profile says nothing the defaults do not: a user who never
// touched it costs no prompt tokens. Its exact wording, one line per field
// that is set:
//
//	The user has set these preferences in their profile. Take them into account unless the user asks otherwise.
//	Response style: Concise (short and direct, without filler).
//	Address the user as: <nick_name>
//	The user's occupation: <occupation>
//	About the user: <more_about_you>
//	Custom instructions: <custom_instructions>
//
// The style line names the base style with its hint (Friendly: "warm and
// conversational"; Professional: "clear, precise and formal"); it is written
// whenever the message is, the default Friendly included.
func profileMessage(p store.ProfileSettings) string {
	style := strings.TrimSpace(p.BaseStyle)
	nick := strings.TrimSpace(p.NickName)
	occupation := strings.TrimSpace(p.Occupation)
	about := strings.TrimSpace(p.MoreAboutYou)
	custom := strings.TrimSpace(p.CustomInstructions)
	if (style == "" || style == defaultStyle) && nick == "" && occupation == "" && about == "" && custom == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(profileIntro)
	if style != "" {
		b.WriteString("\nResponse style: ")
		b.WriteString(style)
		if hint, ok := styleHints[style]; ok {
			b.WriteString(" (")
			b.WriteString(hint)
			b.WriteString(")")
		}
		b.WriteString(".")
	}
	line := func(label, value string) {
		if value != "" {
			b.WriteString("\n")
			b.WriteString(label)
			b.WriteString(value)
		}
	}
	line("Address the user as: ", nick)
	line("The user's occupation: ", occupation)
	line("About the user: ", about)
	line("Custom instructions: ", custom)
	return b.String()
}
