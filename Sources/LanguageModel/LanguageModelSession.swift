// One conversation with a local model: the KV cache, the tokens it holds, and replies streamed token by
// token. The cache outlives a reply, so the next turn only evaluates what its prompt adds (a prompt-prefix
// cache in the manner of llama.cpp's server: the longest common token prefix is kept).
import Compute
import Logging
import Tensors
import ThreadExecutors

/// Limits and sampling of one reply.
public struct GenerationOptions: Codable, Sendable, Hashable {
    /// The most tokens the reply may have.
    public var maxTokens: Int
    /// The reply ends before the first of these strings (which is not emitted).
    public var stopStrings: [String]
    public var sampling: SamplingOptions

    public init(maxTokens: Int = 256, stopStrings: [String] = [], sampling: SamplingOptions = SamplingOptions()) {
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.sampling = sampling
    }
}

/// Why a reply ended (OpenAI's `finish_reason`: `stop` or `length`).
public enum FinishReason: String, Codable, Sendable {
    /// The model ended its turn or a stop string appeared.
    case stop
    /// The token budget or the context ran out.
    case length
}

/// What a streamed reply delivers: text as soon as it is whole, then how it ended.
public enum GenerationEvent: Sendable, Equatable {
    case text(String)
    case finished(FinishReason, promptTokens: Int, completionTokens: Int)
}

/// Owns a model's KV cache for one conversation; replies run one at a time, on a thread of their own so
/// the matrix work never blocks Swift's cooperative pool.
public actor LanguageModelSession {
    public nonisolated let model: LlamaModel
    public nonisolated let tokenizer: Tokenizer
    public nonisolated let template: ChatTemplate
    private let thread: DedicatedThread
    private var cache: KVCache
    /// The tokens whose keys and values are in `cache`, in order.
    private var cachedTokens: [Int32] = []
    private var reply: Reply?
    /// How many prompt tokens of the latest reply came from the cache rather than being evaluated again.
    public private(set) var reusedPromptTokens = 0
    /// Tokens run through the model since the session began, prompts and replies (what a reply cost, for telemetry
    /// and for checking that an abandoned reply stopped).
    public private(set) var evaluatedTokens = 0
    private var replyCounter = 0
    private let logger = Logger(label: "hark.llm")

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    public init(model: LlamaModel, tokenizer: Tokenizer, template: ChatTemplate, contextLength: Int? = nil) throws {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        cache = model.makeCache(contextLength: contextLength)
        do { thread = try DedicatedThread(name: "language model") } catch {
            throw LanguageModelError.compute("cannot start the model's thread: \(error)")
        }
    }

    /// Loads a GGUF's model, tokenizer and chat template for a conversation on `engine`.
    public init(path: String, engine: ComputeEngine, contextLength: Int? = nil) throws {
        let file = try GGUFFile(path: path)
        let model = try LlamaModel(file: file, engine: engine)
        let tokenizer = try Tokenizer(file)
        try self.init(
            model: model, tokenizer: tokenizer, template: ChatTemplate(file, tokenizer: tokenizer),
            contextLength: contextLength)
    }

    /// The prompt tokens for a chat, as the model's template renders it, ready for the assistant's turn.
    public nonisolated func promptTokens(for messages: [ChatMessage]) -> [Int32] {
        let text = template.render(messages, addGenerationPrompt: true)
        return tokenizer.encode(text, addSpecial: true, parseSpecial: true)
    }

    /// Streams the assistant's reply to `messages`. Each element is computed when the consumer asks for it,
    /// so a consumer that stops iterating (or is cancelled) stops the model.
    public nonisolated func reply(to messages: [ChatMessage], options: GenerationOptions = GenerationOptions())
        -> AsyncThrowingStream<GenerationEvent, any Error>
    {
        generate(prompt: promptTokens(for: messages), options: options)
    }

    /// Streams the continuation of `prompt` (token ids).
    public nonisolated func generate(prompt: [Int32], options: GenerationOptions = GenerationOptions())
        -> AsyncThrowingStream<GenerationEvent, any Error>
    {
        let ticket = TicketBox()
        return AsyncThrowingStream {
            if ticket.id == nil { ticket.id = try await self.begin(prompt: prompt, options: options) }
            guard let id = ticket.id else { return nil }
            return try await self.step(id)
        }
    }

    // MARK: One reply, a token per step

    private struct Reply {
        let id: Int
        var sampler: Sampler
        var text: ReplyText
        var logits: [Float]
        let promptTokens: Int
        var produced = 0
        let budget: Int
        var finished: FinishReason?
        var done = false
    }

    private func begin(prompt: [Int32], options: GenerationOptions) throws -> Int {
        guard !prompt.isEmpty else { throw LanguageModelError.emptyPrompt }
        guard prompt.count < cache.capacity else {
            throw LanguageModelError.promptTooLong(tokens: prompt.count, context: cache.capacity)
        }
        // Keep the longest common prefix, but always evaluate at least one token to get fresh logits.
        var keep = zip(cachedTokens, prompt).prefix { $0 == $1 }.count
        keep = min(keep, prompt.count - 1)
        cache.truncate(to: keep)
        cachedTokens.removeLast(cachedTokens.count - keep)
        reusedPromptTokens = keep
        let fresh = Array(prompt[keep...])
        let logits = try evaluate(fresh)
        logger.debug("prompt \(prompt.count) tokens, \(keep) reused from the cache")
        replyCounter += 1
        reply = Reply(
            id: replyCounter, sampler: Sampler(options.sampling), text: ReplyText(stopStrings: options.stopStrings),
            logits: logits, promptTokens: prompt.count, budget: max(0, options.maxTokens))
        return replyCounter
    }

    private func step(_ id: Int) throws -> GenerationEvent? {
        guard var r = reply, r.id == id else { throw LanguageModelError.compute("a newer reply replaced this one") }
        defer { reply = r }
        if r.done { return nil }
        if let reason = r.finished {
            r.done = true
            return .finished(reason, promptTokens: r.promptTokens, completionTokens: r.produced)
        }
        while true {
            try Task.checkCancellation()
            if r.produced >= r.budget || cachedTokens.count >= cache.capacity {
                return finish(&r, .length)
            }
            let token = r.sampler.sample(r.logits, history: cachedTokens)
            r.produced += 1
            if tokenizer.isEndOfGeneration(token) {
                // The end-of-turn token joins the cache, so the next prompt (which contains it) reuses it.
                if cachedTokens.count < cache.capacity { r.logits = try evaluate([token]) }
                return finish(&r, .stop)
            }
            let piece = r.text.append(tokenizer.piece(token))
            if r.text.stopped { return finish(&r, .stop, last: piece) }
            if r.produced < r.budget, cachedTokens.count < cache.capacity { r.logits = try evaluate([token]) }
            if !piece.isEmpty { return .text(piece) }
        }
    }

    private func finish(_ r: inout Reply, _ reason: FinishReason, last: String = "") -> GenerationEvent {
        r.finished = reason
        let tail = last + r.text.finish()
        if !tail.isEmpty { return .text(tail) }
        r.done = true
        return .finished(reason, promptTokens: r.promptTokens, completionTokens: r.produced)
    }

    /// Runs `tokens` through the model after the cached ones; returns the last token's logits.
    private func evaluate(_ tokens: [Int32]) throws -> [Float] {
        let logits = try model.forward(tokens, cache: &cache)
        cachedTokens += tokens
        evaluatedTokens += tokens.count
        return logits.floats()
    }

    /// Forgets the conversation (the next reply evaluates its whole prompt).
    public func reset() {
        cache.truncate(to: 0)
        cachedTokens = []
        reply = nil
    }
}

/// The reply id a stream got from `begin`, kept between the stream's pulls (which are serial).
private final class TicketBox: @unchecked Sendable {
    var id: Int?
}
