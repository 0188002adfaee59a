// The extension point for `POST /v1/chat/completions` (OpenAI chat API, research/assistant.md §4.3): the LLM
// runtime implements `ChatService`; the HTTP server mounts the route only when one is given. The protocol speaks
// bytes, not Hummingbird types, so the LLM side needs no web framework.

/// What a chat completion answers: one JSON document, or Server-Sent Events for `"stream": true`.
public enum ChatResponse: Sendable {
    /// `application/json`: a `chat.completion` object.
    case json([UInt8])
    /// `text/event-stream`: each element is one or more whole `data: {…}\n\n` events; the service ends the stream
    /// with `data: [DONE]\n\n`. Dropping the stream (the client left) must stop the generation.
    case eventStream(AsyncThrowingStream<[UInt8], any Error>)
}

/// Serves OpenAI-compatible chat completions from Hark's own LLM runtime.
public protocol ChatService: Sendable {
    /// Model ids to list in `GET /v1/models`.
    var modelIDs: [String] { get }

    /// Answers one `POST /v1/chat/completions` body (the request JSON as sent).
    /// - Throws: `ServerError` (`.badRequest` for a malformed request, `.busy` when the model's queue is full, …);
    ///   the server renders it as an OpenAI error object.
    func complete(requestBody: [UInt8]) async throws -> ChatResponse
}
