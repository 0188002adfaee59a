// The assistant's in-process language model: the default SmolLM2 GGUF on Hark's own runtime, through
// LocalChatBackend. Replies are greedy and short (run in release).

import Compute
import Foundation
import LanguageModel
import ModelStore
import SpeechPipeline
import Testing

@Suite("The assistant on the in-process language model", .serialized)
struct LocalChatTests {
    static let model = Result { () throws -> LoadedLanguageModel in
        let installed = try ModelStore().defaultModel(.llm)
        return try LoadedLanguageModel(
            path: installed.location.path, name: installed.name, engine: ComputeEngine(), contextLength: 1024)
    }

    static func words(_ text: String) -> [Substring] {
        text.split(whereSeparator: { $0.isWhitespace })
    }

    /// A separate conversation's greedy reply to `messages`: what the assistant must say.
    static func greedy(_ messages: [ChatMessage], maxTokens: Int) async throws -> String {
        let session = try model.get().makeSession()
        var text = ""
        let options = GenerationOptions(maxTokens: maxTokens, sampling: .greedy)
        for try await event in session.reply(to: messages, options: options) {
            if case .text(let piece) = event { text += piece }
        }
        return text
    }

    static func sentences(_ reply: AssistantReply) async throws -> [ReplySentence] {
        guard case .speak(nil, let stream) = reply else { return [] }
        var out: [ReplySentence] = []
        for try await sentence in stream { out.append(sentence) }
        return out
    }

    @Test("an unknown question is answered by the model, sentence by sentence, with the conversation remembered")
    func answers() async throws {
        let model = try Self.model.get()
        let session = try model.makeSession()
        var settings = PipelineConfiguration.LLMSettings()
        settings.maxTokens = 32
        let chat = LocalChatBackend(session: session, name: model.name, timeout: .seconds(120), maxTokens: 32)
        let assistant = Assistant(intents: try IntentMatcher(), chat: chat, settings: settings)

        let question = "Why is the sky blue?"
        let first = try await Self.sentences(await assistant.respond(to: question, at: .zero))
        #expect(!first.isEmpty)
        #expect(first.allSatisfy { $0.source == .chat })
        #expect(first.first?.firstToken != nil)
        let messages: [ChatMessage] = [.system(settings.systemPrompt), .user(question)]
        let expected = try await Self.greedy(messages, maxTokens: 32)
        #expect(Self.words(first.map(\.text).joined(separator: " ")) == Self.words(expected))

        // The next question carries the exchange as memory, and the session reuses its cached prompt.
        _ = try await Self.sentences(await assistant.respond(to: "And why are sunsets red?", at: .zero))
        let reused = await session.reusedPromptTokens
        #expect(reused >= session.promptTokens(for: messages).count, "reused \(reused)")
    }

    @Test(
        "a token budget ends a reply early; a timeout and a too small context are errors, and the assistant apologises")
    func failures() async throws {
        let model = try Self.model.get()
        let messages: [ChatMessage] = [.user("Tell me about the moon.")]

        var pieces: [String] = []
        let short = LocalChatBackend(
            session: try model.makeSession(), name: model.name, timeout: .seconds(60), maxTokens: 3)
        for try await piece in short.reply(to: messages) { pieces.append(piece) }
        #expect(pieces.joined() == (try await Self.greedy(messages, maxTokens: 3)))

        // No reply, not even the prompt's evaluation, fits in a nanosecond.
        let hurried = LocalChatBackend(
            session: try model.makeSession(), name: model.name, timeout: .nanoseconds(1), maxTokens: 32)
        await #expect {
            for try await _ in hurried.reply(to: messages) {}
        } throws: { ($0 as? PipelineError)?.code == .chatTimedOut }

        let installed = try ModelStore().defaultModel(.llm)
        let tiny = try LoadedLanguageModel(
            path: installed.location.path, name: installed.name, engine: ComputeEngine(), contextLength: 64)
        let cramped = LocalChatBackend(session: try tiny.makeSession(), name: tiny.name, timeout: .seconds(60))
        let long: [ChatMessage] = [.user(String(repeating: "Tell me about the moon. ", count: 20))]
        await #expect {
            for try await _ in cramped.reply(to: long) {}
        } throws: { error in
            (error as? PipelineError)?.code == .chatFailed && "\(error)".contains("context")
        }

        // The assistant speaks its apology for both.
        for backend in [hurried, cramped] {
            var settings = PipelineConfiguration.LLMSettings()
            settings.systemPrompt = String(repeating: "Answer briefly. ", count: 20)
            let assistant = Assistant(intents: try IntentMatcher(), chat: backend, settings: settings)
            let reply = try await Self.sentences(await assistant.respond(to: "Why is the sky blue?", at: .zero))
            #expect(reply.map(\.source) == [.apology])
            #expect(reply.first?.text.hasPrefix("Sorry, I can't answer that right now") == true)
        }
    }
}
