// ChatBackend: what the assistant needs from a language model — a streamed reply to a conversation. One
// implementation now (OpenAIChatClient, any OpenAI-compatible server); Hark's in-process runtime plugs in here later.

/// One message of a conversation, in the OpenAI chat roles.
public struct ChatMessage: Codable, Sendable, Equatable {
    /// Who speaks.
    public enum Role: String, Codable, Sendable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// A language model that answers a conversation with streamed text.
public protocol ChatBackend: Sendable {
    /// The reply to `messages` (system prompt first, the user's question last), as text pieces in order.
    ///
    /// The stream finishes when the reply is complete and throws `PipelineError` (`.chatFailed`, `.chatTimedOut`)
    /// when the model cannot answer. Cancelling the consuming task, or dropping the stream, stops generation.
    func reply(to messages: [ChatMessage]) -> AsyncThrowingStream<String, any Error>
}
