package conversation

// Message roles. A client may store the first four in a conversation; tool
// messages exist only in chat requests.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleTool      = "tool"
)

// ItemMessage is the type of a message item, the only type stored.
const ItemMessage = "message"

// Content part types of a stored item, as OpenAI names them.
const (
	PartInputText  = "input_text"
	PartOutputText = "output_text"
	PartInputImage = "input_image"
	PartRefusal    = "refusal"
)

// TextPartType returns the part type of plain text said by role: output_text
// for the assistant, input_text for everyone else. Content given as a plain
// string is stored as one part of this type.
func TextPartType(role string) string {
	if role == RoleAssistant {
		return PartOutputText
	}
	return PartInputText
}
