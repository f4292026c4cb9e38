// Package memory is the gateway's per-user memory and its embeddings API:
//
//   - POST /v1/embeddings (EmbeddingsHandler), OpenAI's shape, routed to the
//     providers that embed (provider.Embedder);
//   - the memory items of a user (core facts about the user, facts of a
//     project, episodic summaries of past turns), each with its embedding,
//     kept by store.MemoryStore, and the user's API over them
//     (/v1/memories, APIHandler);
//   - retrieval (Service.Recall): on a chat turn in a conversation, the new
//     user message is embedded and the user's items are ranked by exact
//     cosine in Go over a cached per-user set, per the user's memory_config;
//     what passes becomes one system message;
//   - observation (Service.Observe and the goroutines of Service.Run,
//     queue.go): after a stored turn, a background worker asks the
//     extraction model for durable facts (package memprompt), embeds them
//     and adds them, a near-duplicate replacing the older item. Turns wait
//     as pending records in the store, so delivery is at least once across
//     restarts and reloads.
package memory
