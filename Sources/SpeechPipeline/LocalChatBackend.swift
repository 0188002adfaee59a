// LocalChatBackend: the assistant's language model in-process, on Hark's own runtime (Sources/LanguageModel), and
// LoadedLanguageModel, the GGUF loaded once so that every face (the assistant, the HTTP chat API) shares its
// weights. Each face gets a LanguageModelSession of its own: the weights are mapped once, and each session's KV
// cache costs memory only for the positions it fills, so the assistant keeps its conversation cached between turns
// while the HTTP API serves other conversations.

import Compute
import LanguageModel
import Tensors

/// A chat model loaded from a GGUF: weights, tokenizer and chat template, ready to start conversations.
public struct LoadedLanguageModel: Sendable {
    /// The catalog name, or the file name of a model given by path.
    public let name: String
    /// The GGUF file.
    public let path: String
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    public let template: ChatTemplate
    /// Positions each conversation's KV cache holds.
    public let contextLength: Int

    /// Loads the GGUF at `path` onto `engine`.
    /// - Throws: `PipelineError` `.modelUnavailable` naming the file and what is wrong with it.
    public init(path: String, name: String, engine: ComputeEngine, contextLength: Int) throws(PipelineError) {
        do {
            let file = try GGUFFile(path: path)
            model = try LlamaModel(file: file, engine: engine)
            tokenizer = try Tokenizer(file)
            template = ChatTemplate(file, tokenizer: tokenizer)
        } catch {
            throw PipelineError(.modelUnavailable, "language model \(path): \(error)", subject: path)
        }
        self.name = name
        self.path = path
        self.contextLength = contextLength
    }

    /// A new conversation on these weights, with a KV cache of its own.
    /// - Throws: `PipelineError` `.modelUnavailable` when the session's thread cannot start.
    public func makeSession() throws(PipelineError) -> LanguageModelSession {
        do {
            return try LanguageModelSession(
                model: model, tokenizer: tokenizer, template: template, contextLength: contextLength)
        } catch {
            throw PipelineError(.modelUnavailable, "language model \(name): \(error)", subject: path)
        }
    }
}

/// A `ChatBackend` over a `LanguageModelSession`: greedy replies (a spoken answer should not change from one
/// asking to the next), at most `maxTokens` long, given up after `timeout`.
public struct LocalChatBackend: ChatBackend {
    public let session: LanguageModelSession
    /// How long one whole reply may take.
    public let timeout: Duration
    /// Longest reply, in tokens.
    public let maxTokens: Int
    /// What errors name (the model's name).
    public let name: String

    public init(session: LanguageModelSession, name: String, timeout: Duration, maxTokens: Int = 200) {
        self.session = session
        self.name = name
        self.timeout = timeout
        self.maxTokens = maxTokens
    }

    public func reply(to messages: [ChatMessage]) -> AsyncThrowingStream<String, any Error> {
        let options = GenerationOptions(maxTokens: maxTokens, sampling: .greedy)
        return timedChatReply(
            timeout: timeout, subject: name,
            timedOut: "the language model \(name) did not answer within \(timeout)",
            failure: { [name] in "the language model \(name) failed: \($0)" },
            produce: { [session] continuation in
                for try await event in session.reply(to: messages, options: options) {
                    if case .text(let piece) = event { continuation.yield(piece) }
                }
            })
    }
}
