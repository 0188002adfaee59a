// POST /v1/chat/completions on Hark's own runtime (the default SmolLM2 model), driven by the PyPI `openai` client
// (scripts/clients/openai_client.py) and by curl for the errors. Replies are greedy and short.

import Compute
import Foundation
import LanguageModel
import Logging
import ModelStore
import Testing

@testable import SpeechServers

@Suite("Chat completions on the in-process model", .serialized)
struct ChatCompletionTests {
    typealias S = ServerTestSupport

    struct Running: Sendable {
        let port: Int
        let service: LanguageModelChatService
        /// Another conversation on the same weights, for the expected replies.
        let reference: LanguageModelSession
    }

    /// A second HTTP server, with the chat service, on the shared speech models; started once.
    static let running = Task { () async throws -> Running in
        let path = try ModelStore().installedModel(named: "smollm2-135m-instruct-q4_1", kind: .llm).location.path
        let session = try LanguageModelSession(path: path, engine: ComputeEngine(), contextLength: 512)
        let reference = try LanguageModelSession(
            model: session.model, tokenizer: session.tokenizer, template: session.template, contextLength: 512)
        // Depth 0: one request runs, the next is refused, so a held slot shows as 503.
        let service = LanguageModelChatService(
            session: session, name: "smollm2-135m-instruct-q4_1",
            queue: ModelQueue(name: "smollm2-135m-instruct-q4_1", depth: 0, retryAfter: 1))
        let services = try await S.servers().services
        var logger = Logger(label: "hark.servers.chat-test")
        logger.logLevel = .warning
        let configuration = ServerConfiguration(wyoming: "off", http: "127.0.0.1:0")
        let (stream, continuation) = AsyncStream.makeStream(of: BoundAddresses.self)
        Task.detached {
            do {
                try await runServers(configuration: configuration, services: services, chat: service, logger: logger) {
                    continuation.yield($0)
                    continuation.finish()
                }
            } catch {
                continuation.finish()
            }
        }
        var iterator = stream.makeAsyncIterator()
        guard let http = await iterator.next()?.http else { throw S.Failure("the chat server did not start") }
        return Running(port: http.port, service: service, reference: reference)
    }

    static let messages: [ChatMessage] = [
        .system("You are a helpful assistant."), .user("What is the capital of France?"),
    ]
    static var messagesJSON: String {
        String(decoding: try! JSONEncoder().encode(messages), as: UTF8.self)
    }

    /// The reference session's greedy reply and finish event.
    static func expected(_ running: Running, maxTokens: Int) async throws -> (String, GenerationEvent?) {
        var text = ""
        var end: GenerationEvent?
        let options = GenerationOptions(maxTokens: maxTokens, sampling: .greedy)
        for try await event in running.reference.reply(to: messages, options: options) {
            if case .text(let piece) = event { text += piece } else { end = event }
        }
        return (text, end)
    }

    @Test("the openai client gets the model's greedy reply, streamed and not, with finish reason and usage")
    func openAIClient() async throws {
        let running = try await Self.running.value
        let (expected, end) = try await Self.expected(running, maxTokens: 24)
        guard case .finished(let reason, let promptTokens, let completionTokens) = end else {
            Issue.record("no finish event")
            return
        }
        let common = [
            "--port", "\(running.port)", "chat", Self.messagesJSON, "--max-tokens", "24", "--temperature", "0",
        ]
        let plain = try await S.client("openai_client.py", common)
        #expect(plain["object"] as? String == "chat.completion")
        #expect(plain["role"] as? String == "assistant")
        #expect(plain["text"] as? String == expected)
        #expect(plain["finish_reason"] as? String == reason.rawValue)
        let usage = plain["usage"] as? [String: Any]
        #expect(usage?["prompt_tokens"] as? Int == promptTokens)
        #expect(usage?["completion_tokens"] as? Int == completionTokens)
        #expect(usage?["total_tokens"] as? Int == promptTokens + completionTokens)

        let streamed = try await S.client("openai_client.py", common + ["--stream"])
        #expect(streamed["text"] as? String == expected)
        #expect(streamed["roles"] as? [String] == ["assistant"])
        #expect((streamed["pieces"] as? [String])?.count ?? 0 > 1)
        #expect(streamed["finish_reason"] as? String == reason.rawValue)
        #expect((streamed["usage"] as? [String: Any])?["completion_tokens"] as? Int == completionTokens)
        #expect(running.service.queue.load == 0)
        let models = try await S.client("openai_client.py", ["--port", "\(running.port)", "models"])
        #expect((models["ids"] as? [String])?.contains("smollm2-135m-instruct-q4_1") == true, "\(models)")

        // A budget of 3 tokens ends with `length`; a stop string cuts the text before it.
        let short = try await S.client(
            "openai_client.py",
            ["--port", "\(running.port)", "chat", Self.messagesJSON, "--max-tokens", "3", "--temperature", "0"])
        #expect(short["finish_reason"] as? String == "length")
        #expect((short["usage"] as? [String: Any])?["completion_tokens"] as? Int == 3)
        if let word = expected.split(separator: " ").dropFirst().first {
            let cut = try await S.client("openai_client.py", common + ["--stop", String(word)])
            let text = cut["text"] as? String ?? ""
            #expect(expected.hasPrefix(text) && !text.contains(word), "\(text) / \(word)")
            #expect(cut["finish_reason"] as? String == "stop")
        }
    }

    @Test("bad requests get OpenAI-style 400s; a held model answers 503 with Retry-After")
    func errors() async throws {
        let running = try await Self.running.value
        let url = "http://127.0.0.1:\(running.port)/v1/chat/completions"
        func post(_ body: String) async throws -> (status: Int, body: String) {
            try await S.curl(["-X", "POST", url, "-H", "Content-Type: application/json", "-d", body])
        }
        func expectError(_ r: (status: Int, body: String), _ status: Int, _ words: String) {
            #expect(r.status == status, "\(words): \(r.body)")
            let object = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            #expect(error?["type"] is String && error?["code"] is String, "\(r.body)")
            #expect((error?["message"] as? String)?.contains(words) == true, "\(r.body)")
        }
        expectError(try await post(#"{"messages": [{"role": "user", "content": "hi"}"#), 400, "JSON")
        expectError(try await post(#"{"model": "x"}"#), 400, "messages")
        expectError(try await post(#"{"messages": []}"#), 400, "messages must not be empty")
        expectError(try await post(#"{"messages": [{"role": "tool", "content": "hi"}]}"#), 400, "'tool'")
        expectError(
            try await post(#"{"messages": [{"role": "user", "content": "hi"}], "n": 2}"#), 400, "n must be 1")
        expectError(
            try await post(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}"#), 400, "max_tokens")
        expectError(
            try await post(#"{"messages": [{"role": "user", "content": "hi"}], "temperature": 5}"#), 400,
            "temperature")
        let long = String(repeating: "word ", count: 600)
        expectError(try await post(#"{"messages": [{"role": "user", "content": "\#(long)"}]}"#), 400, "context")

        // The model is busy while a reply holds it (queue depth 0): the next request is refused.
        let slot = try await running.service.queue.acquire()
        expectError(try await post(#"{"messages": [{"role": "user", "content": "hi"}]}"#), 503, "busy")
        slot.release()
        let ok = try await post(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#)
        #expect(ok.status == 200, "\(ok.body)")
    }

    @Test("a client that leaves mid-stream stops the reply and frees the model")
    func disconnect() async throws {
        let running = try await Self.running.value
        let url = "http://127.0.0.1:\(running.port)/v1/chat/completions"
        let messages =
            #"[{"role": "user", "content": "Count from one to one thousand in words, separated by commas."}]"#
        // Left alone, this reply runs its whole budget of 300 tokens.
        let whole = try await S.client(
            "openai_client.py",
            ["--port", "\(running.port)", "chat", messages, "--max-tokens", "300", "--temperature", "0"])
        try #require(whole["finish_reason"] as? String == "length", "\(whole)")

        let before = await running.service.session.evaluatedTokens
        let body = #"{"messages": \#(messages), "stream": true, "temperature": 0, "max_tokens": 300}"#
        // `head` takes the first events and exits; curl, writing into the closed pipe, dies and drops the connection.
        let command = "curl -sN -X POST \(url) -H 'Content-Type: application/json' -d '\(body)' | head -c 1000"
        let received = try await S.runOffPool("/bin/sh", ["-c", command]).output
        #expect(received.components(separatedBy: "data: ").count > 3, "\(received)")
        // The server notices the closed connection at its next write and gives the model back; the next request
        // (refused with 503 while the abandoned reply still holds the model) then gets it.
        var status = 0
        for _ in 0..<300 {
            let next = #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}"#
            status = try await S.curl(["-X", "POST", url, "-d", next]).status
            if status != 503 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == 200)
        // The abandoned reply (its prompt came from the cache) and the short request together evaluated far fewer
        // tokens than the 300 the reply would have run to.
        let evaluated = await running.service.session.evaluatedTokens - before
        #expect(evaluated < 150, "\(evaluated) tokens evaluated")
    }
}
