// The OpenAI-compatible client against a real HTTP server speaking server-sent events (scripts/fake-openai-server.py).

import Foundation
import LanguageModel
import SpeechPipeline
import Testing

@Suite("OpenAI-compatible chat client", .serialized)
struct ChatClientTests {
    static func collect(_ stream: AsyncThrowingStream<String, any Error>) async throws -> [String] {
        var pieces: [String] = []
        for try await piece in stream { pieces.append(piece) }
        return pieces
    }

    @Test("Streams the reply in pieces and sends model, messages and stream: true")
    func streams() async throws {
        let server = try await FakeChatServer.start(reply: "Paris is the capital of France. It has the Eiffel Tower.")
        defer { server.stop() }
        let client = OpenAIChatClient(url: server.url, model: "hark-test", timeout: .seconds(10))
        #expect(client.endpoint == "\(server.url)/v1/chat/completions")
        try await client.checkReachable()
        let messages = [ChatMessage(.system, "Be brief."), ChatMessage(.user, "What is the capital of France?")]
        let pieces = try await Self.collect(client.reply(to: messages))
        #expect(pieces.count > 5)
        #expect(pieces.joined() == "Paris is the capital of France. It has the Eiffel Tower.")
        let request = try server.lastRequest()
        #expect(request["model"] as? String == "hark-test")
        #expect(request["stream"] as? Bool == true)
        let sent = request["messages"] as? [[String: String]]
        #expect(sent?.map { $0["role"] ?? "" } == ["system", "user"])
        #expect(sent?.last?["content"] == "What is the capital of France?")
    }

    @Test("Failures are PipelineErrors: HTTP 500, an error in the stream, nobody listening, a timeout")
    func failures() async throws {
        let server = try await FakeChatServer.start()
        defer { server.stop() }
        func code(model: String, url: String? = nil, timeout: Duration = .seconds(10)) async -> PipelineError.Code? {
            let client = OpenAIChatClient(url: url ?? server.url, model: model, timeout: timeout)
            do {
                _ = try await Self.collect(client.reply(to: [ChatMessage(.user, "hi")]))
                return nil
            } catch {
                return (error as? PipelineError)?.code
            }
        }
        #expect(await code(model: "fail") == .chatFailed)
        #expect(await code(model: "stream-error") == .chatFailed)
        // A refused connection is an error at once, not after the reply's whole timeout (the HTTP client's default
        // is to retry connecting until then).
        let clock = ContinuousClock()
        let refused = clock.now
        #expect(await code(model: "x", url: "http://127.0.0.1:9", timeout: .seconds(30)) == .chatFailed)
        #expect(clock.now - refused < .seconds(10))
        let start = clock.now
        #expect(await code(model: "slow", timeout: .milliseconds(500)) == .chatTimedOut)
        #expect(clock.now - start < .seconds(10))  // gave up, did not hang for the server's 30 s
        await #expect(throws: PipelineError.self) {
            try await OpenAIChatClient(url: "http://127.0.0.1:9", model: "x", timeout: .seconds(1)).checkReachable()
        }
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test("A config file needs only the keys that differ; bad files are clear errors")
    func loading() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("harkd.json")
        try #"{"captureDevice": "hw:1", "vad": {"silence": 1.2}, "llm": {"url": null}, "wakePhrase": "hey hark"}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let config = try PipelineConfiguration.load(from: path)
        #expect(config.captureDevice == "hw:1")
        #expect(config.playbackDevice == "default")
        #expect(config.vad.silence == 1.2)
        #expect(config.vad.threshold == 0.5)
        #expect(config.llm.url == nil)
        #expect(config.llm.timeout == 30)
        #expect(config.wakePhrase == "hey hark")
        #expect(config.bargeIn)

        let cases = [
            ("{\"vad\": {\"silence\": \"long\"}}", "vad.silence"), ("{\"vad\": {\"threshold\": 2}}", "vad.threshold"),
            ("{\"llm\": {\"url\": \"ftp://x\"}}", "llm.url"), ("[1, 2", "not a valid harkd config"),
        ]
        for (text, expected) in cases {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try PipelineConfiguration.load(from: path)
            } throws: { error in
                (error as? PipelineError)?.code == .invalidConfiguration && "\(error)".contains(expected)
            }
        }
    }

    @Test("Round trip through JSON")
    func roundTrip() throws {
        var config = PipelineConfiguration()
        config.voice = "en_US-joe-medium"
        config.bargeIn = false
        config.llm.memoryTurns = 2
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(PipelineConfiguration.self, from: data) == config)
    }
}
