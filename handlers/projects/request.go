package projects

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Limits of a project's fields.
const (
	// MaxNameLength is the longest project name, in characters, after
	// trimming.
	MaxNameLength = 120
	// MaxInstructionLength is the longest instruction, in characters. The
	// instruction is sent with every chat turn of the project's
	// conversations: 32768 characters are some 8k tokens.
	MaxInstructionLength = 32768
)

// validInstruction checks an instruction's length.
func validInstruction(instruction *string) *apierr.Error {
	if instruction != nil && utf8.RuneCountInString(*instruction) > MaxInstructionLength {
		return apierr.Invalid("instruction", "invalid_value",
			"instruction can be at most "+strconv.Itoa(MaxInstructionLength)+" characters long")
	}
	return nil
}

// projectRequest is the body of POST /v1/projects and PATCH
// /v1/projects/{id}; absent fields stay nil.
type projectRequest struct {
	Name        *string `json:"name"`
	Instruction *string `json:"instruction"`
	IsFavorite  *bool   `json:"is_favorite"`
	Archived    *bool   `json:"archived"`
	IsArchived  *bool   `json:"is_archived"` // alias of archived
}

// archived returns the archived flag given as archived or is_archived.
func (req *projectRequest) archived() (*bool, *apierr.Error) {
	switch {
	case req.Archived == nil:
		return req.IsArchived, nil
	case req.IsArchived != nil && *req.IsArchived != *req.Archived:
		return nil, apierr.Invalid("is_archived", "invalid_value", "archived and is_archived disagree")
	}
	return req.Archived, nil
}

// validName trims a project name and checks its length.
func validName(name string) (string, *apierr.Error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameLength {
		return "", apierr.Invalid("name", "invalid_value",
			"name must be 1 to "+strconv.Itoa(MaxNameLength)+" characters long")
	}
	return name, nil
}
