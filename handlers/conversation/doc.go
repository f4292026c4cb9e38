// Package conversation is the gateway's conversation domain: the item
// vocabulary (roles, content part types), the items a turn stores, the
// system messages composed from a project's instruction and a user's
// profile, the settings a user has before storing any and the one that acts
// on chat (ToolPolicy), and the recording of turns (Recorder).
//
// It imports no HTTP package: the HTTP adapters (handlers/chat,
// handlers/conversations, handlers/settings, and later handlers/responses
// and handlers/memory) parse their wire formats into the values of this
// package, call it, and map its errors to HTTP answers. A Recorder takes a
// Turn (who, which conversation, the new user item), never a request, so
// that every API that records turns records them the same way.
// handlers/layering_test.go holds the rule.
//
// Errors are plain Go errors: store errors come back wrapped (errors.Is
// store.ErrNotFound, store.ErrUnavailable, …), content that cannot be stored
// is a *ContentError whose message is the one the client reads.
package conversation
