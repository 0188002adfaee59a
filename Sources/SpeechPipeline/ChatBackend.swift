// ChatBackend: what the assistant needs from a language model — a streamed reply to a conversation. Two
// implementations: LocalChatBackend (Hark's own runtime, in-process: the default) and OpenAIChatClient (any
// OpenAI-compatible server). Messages are LanguageModel's `ChatMessage`, the one type every face shares.

import LanguageModel

/// A language model that answers a conversation with streamed text.
public protocol ChatBackend: Sendable {
    /// The reply to `messages` (system prompt first, the user's question last), as text pieces in order.
    ///
    /// The stream finishes when the reply is complete and throws `PipelineError` (`.chatFailed`, `.chatTimedOut`)
    /// when the model cannot answer. Cancelling the consuming task, or dropping the stream, stops generation.
    func reply(to messages: [ChatMessage]) -> AsyncThrowingStream<String, any Error>
}

/// Runs `produce` (which yields a reply's pieces) under `timeout`, as the stream a `ChatBackend` returns: the
/// timeout becomes `.chatTimedOut` with `timedOut` as its message, any other failure `.chatFailed` through
/// `failure`, and dropping the stream cancels `produce`.
func timedChatReply(
    timeout: Duration, subject: String, timedOut: String, failure: @escaping @Sendable (any Error) -> String,
    produce: @escaping @Sendable (AsyncThrowingStream<String, any Error>.Continuation) async throws -> Void
) -> AsyncThrowingStream<String, any Error> {
    // Unbounded is safe: a reply is at most its token budget of small pieces.
    let (stream, continuation) = AsyncThrowingStream.makeStream(of: String.self, throwing: (any Error).self)
    let work = Task {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await produce(continuation) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw PipelineError(.chatTimedOut, timedOut, subject: subject)
                }
                try await group.next()
                group.cancelAll()
            }
            continuation.finish()
        } catch is CancellationError {
            continuation.finish(throwing: CancellationError())
        } catch let error as PipelineError {
            continuation.finish(throwing: error)
        } catch {
            continuation.finish(throwing: PipelineError(.chatFailed, failure(error), subject: subject))
        }
    }
    continuation.onTermination = { _ in work.cancel() }
    return stream
}
