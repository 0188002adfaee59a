import Compute
import Foundation
import LanguageModel
import ModelStore
import Testing

/// A conversation with the default model: streamed replies, the prompt-prefix cache, budgets, cancellation.
@Suite("A chat session with SmolLM2", .serialized)
struct LanguageModelSessionTests {
    static func session(context: Int = 1024) throws -> LanguageModelSession {
        let path = try ModelStore().installedModel(named: "smollm2-135m-instruct-q4_1", kind: .llm).location.path
        return try LanguageModelSession(path: path, engine: ComputeEngine(), contextLength: context)
    }

    static func collect(_ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> (
        text: String, end: GenerationEvent?
    ) {
        var text = ""
        var end: GenerationEvent?
        for try await event in stream {
            switch event {
            case .text(let t): text += t
            case .finished: end = event
            }
        }
        return (text, end)
    }

    @Test("a greedy streamed reply is the model's greedy continuation, decoded")
    func greedyReplyMatchesTheModel() async throws {
        let session = try Self.session()
        let messages: [ChatMessage] = [.user("What is the capital of France?")]
        let options = GenerationOptions(maxTokens: 40, sampling: .greedy)
        let (text, end) = try await Self.collect(session.reply(to: messages, options: options))

        let prompt = session.promptTokens(for: messages)
        var cache = session.model.makeCache(contextLength: 1024)
        let ids = try session.model.greedy(
            prompt, maxTokens: 40, stop: Set(session.tokenizer.endOfGeneration), cache: &cache)
        let expected = session.tokenizer.decode(ids.filter { !session.tokenizer.isEndOfGeneration($0) })
        #expect(text == expected)
        #expect(!text.isEmpty)
        guard case .finished(_, let promptTokens, let completionTokens) = end else {
            Issue.record("no finish event")
            return
        }
        #expect(promptTokens == prompt.count)
        #expect(completionTokens == ids.count)
    }

    @Test("the next turn reuses the cached conversation and only evaluates what it adds")
    func prefixCache() async throws {
        let session = try Self.session()
        let options = GenerationOptions(maxTokens: 24, sampling: .greedy)
        var messages: [ChatMessage] = [.user("Name a colour.")]
        let first = try await Self.collect(session.reply(to: messages, options: options)).text
        let firstPrompt = session.promptTokens(for: messages).count
        messages += [.assistant(first), .user("Name another one.")]
        _ = try await Self.collect(session.reply(to: messages, options: options))
        let reused = await session.reusedPromptTokens
        #expect(reused >= firstPrompt, "reused \(reused) of a first prompt of \(firstPrompt) tokens")
    }

    @Test("the token budget ends a reply with finish reason length; stop strings cut it")
    func budgetsAndStops() async throws {
        let session = try Self.session()
        let messages: [ChatMessage] = [.user("Count from one to twenty in words, separated by commas.")]
        let (_, end) = try await Self.collect(
            session.reply(to: messages, options: GenerationOptions(maxTokens: 5, sampling: .greedy)))
        #expect(end == .finished(.length, promptTokens: session.promptTokens(for: messages).count, completionTokens: 5))

        let full = try await Self.collect(
            session.reply(to: messages, options: GenerationOptions(maxTokens: 30, sampling: .greedy))
        ).text
        guard let comma = full.firstIndex(of: ",") else { return }
        let cut = try await Self.collect(
            session.reply(
                to: messages, options: GenerationOptions(maxTokens: 30, stopStrings: [","], sampling: .greedy)))
        #expect(cut.text == String(full[..<comma]))
        if case .finished(let reason, _, _) = cut.end { #expect(reason == .stop) }
    }

    @Test("a consumer that stops listening stops the model, and the session goes on")
    func cancellation() async throws {
        let session = try Self.session()
        let messages: [ChatMessage] = [.user("Tell me a long story about a dragon.")]
        var pieces = 0
        for try await event in session.reply(to: messages, options: GenerationOptions(maxTokens: 200)) {
            if case .text = event { pieces += 1 }
            if pieces == 3 { break }
        }
        #expect(pieces == 3)
        let (text, _) = try await Self.collect(
            session.reply(to: [.user("Say hello.")], options: GenerationOptions(maxTokens: 10, sampling: .greedy)))
        #expect(!text.isEmpty)
    }

    @Test("an empty prompt and a prompt longer than the context are errors")
    func badPrompts() async throws {
        let session = try Self.session(context: 64)
        await #expect(throws: LanguageModelError.emptyPrompt) {
            _ = try await Self.collect(session.generate(prompt: []))
        }
        let long = String(repeating: "word ", count: 200)
        await #expect(throws: LanguageModelError.self) {
            _ = try await Self.collect(session.reply(to: [.user(long)]))
        }
    }
}
