// The pipeline against a real language-model server: llama-cpp-python's OpenAI-compatible server (the reference
// venv's, HARK_REFERENCE_PYTHON) on the catalog's SmolLM2 GGUF, started by the test on a free port. The LLM URL is
// set explicitly, so the test holds whichever language model is the daemon's default.

import Foundation
import HarkTestSupport
import ModelStore
import SpeechPipeline
import Testing

/// llama-cpp-python's server, running until `stop()`.
final class LlamaServer: Sendable {
    let process: Process
    let port: Int

    var url: String { "http://127.0.0.1:\(port)" }

    /// The reference venv's Python (`HARK_REFERENCE_PYTHON`, else `<repo>/.venv/bin/python`).
    static func python() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["HARK_REFERENCE_PYTHON"]
            ?? Paths.repository.appending(path: ".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FakeChatServer.ServerError(
                description: "no reference Python at \(path): run scripts/reference-env (llama-cpp-python[server])")
        }
        return path
    }

    /// Starts the server on the catalog's SmolLM2 and waits until it listens.
    static func start() async throws -> LlamaServer {
        let model = try ModelStore().installedModel(named: "smollm2-135m-instruct-q4_1", kind: .llm).location.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = [
            "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", "0", "--n_ctx", "2048",
        ]
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        // A server that never says it listens is killed, which ends the wait below.
        let watchdog = ProcessWatchdog(process, limit: .seconds(600))
        defer { watchdog.cancel() }
        // Uvicorn says where it listens ("Uvicorn running on http://127.0.0.1:PORT"); the log is read to its end on a
        // thread of its own, so the server never blocks on a full pipe.
        let marker = "Uvicorn running on http://127.0.0.1:"
        let output = log.fileHandleForReading
        let port: Int? = await withCheckedContinuation { continuation in
            Thread {
                var found = false
                for line in LineReader(output) where !found && line.contains(marker) {
                    found = true
                    let rest = line[line.range(of: marker)!.upperBound...]
                    continuation.resume(returning: Int(rest.prefix { $0.isNumber }))
                }
                if !found { continuation.resume(returning: nil) }
            }.start()
        }
        guard let port else {
            process.waitUntilExit()
            throw FakeChatServer.ServerError(
                description: "llama-cpp-python's server did not start (status \(process.terminationStatus))")
        }
        return LlamaServer(process: process, port: port)
    }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// The lines of a file handle, read until its end (blocking: for a thread of its own).
struct LineReader: Sequence, IteratorProtocol {
    let handle: FileHandle
    private var buffer = Data()
    private var ended = false

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { ended = true } else { buffer += chunk }
        }
    }
}

@Suite("The pipeline against llama-cpp-python's server", .serialized)
struct LLMServerTests {
    @Test("An unknown spoken question goes to the real server, and a spoken answer comes back")
    func realServer() async throws {
        let server = try await LlamaServer.start()
        defer { server.stop() }
        let e2e = try EndToEndTests()
        // Real speech: "go forward ten meters", which no built-in intent answers.
        let input =
            EndToEndTests.silence(1) + (try EndToEndTests.recording("cmu_pocketsphinx_goforward.wav"))
            + EndToEndTests.silence(3)
        let run = try await e2e.run(input) { config in
            config.llm.enabled = true  // run(_:) turns the language model off unless a test asks for one
            config.llm.url = server.url
            config.llm.model = "smollm2"
            config.llm.maxTokens = 60
            config.llm.timeout = 120
        }
        #expect(run.states == EndToEndTests.turn, "\(run.events)")
        #expect(run.transcripts.first?.lowercased().contains("forward") == true, "\(run.transcripts)")
        #expect(!run.sentences.isEmpty && run.sentences.allSatisfy { $0.1 == .chat }, "\(run.events)")
        let timings = run.events.compactMap { if case .timings(let t) = $0 { t } else { nil } }
        #expect(timings.first?.firstToken != nil && timings.first?.firstAudio != nil)
        // What was played, heard by Hark's own Whisper: words, and not the apology.
        let heard = try await e2e.transcribePlayback(run)
        let apology = e2e.models.intents.message("chatFailed")
        #expect(heard.contains { $0.isLetter }, "played: '\(heard)'; said: \(run.sentences)")
        #expect(!IntentMatcher.normalize(heard).contains(IntentMatcher.normalize("language model is not reachable")))
        #expect(!run.sentences.contains { $0.0 == apology })
        #expect(run.audibleSeconds > 0.5)
    }

    @Test("harkd pointed at the real server with --llm-url speaks the model's answer")
    func daemon() async throws {
        let server = try await LlamaServer.start()
        defer { server.stop() }
        let input =
            EndToEndTests.silence(1) + (try EndToEndTests.recording("cmu_pocketsphinx_goforward.wav"))
            + EndToEndTests.silence(3)
        let folder = try HarkdFaultTests.devices(input)
        defer { folder.remove() }
        let daemon = try RunningDaemon(
            HarkdFaultTests.arguments(folder, seconds: Double(input.count) / 16_000, llmURL: server.url))
        defer { daemon.remove() }
        let output = await daemon.output()
        #expect(await daemon.exitStatus() == 0, "\(daemon.log)")
        let events = HarkdFaultTests.events(output)
        #expect(HarkdFaultTests.states(events) == EndToEndTests.turn.map(\.rawValue), "\(output)")
        let sentences = events.filter { $0["event"] as? String == "sentence" }
        #expect(!sentences.isEmpty && sentences.allSatisfy { $0["source"] as? String == "chat" }, "\(output)")
        let timings = events.first { $0["event"] as? String == "timings" }
        #expect(timings?["firstTokenMs"] is Double, "\(output)")
        #expect(daemon.log.contains("first token"), "\(daemon.log)")
        let played = try EndToEndTests.samples(ofRaw: folder.file("playback.raw"))
        let e2e = try EndToEndTests()
        let heard = try await e2e.transcribePlayback(
            PipelineRun(events: [], played: played, playedRate: e2e.models.synthesizer.sampleRate))
        #expect(heard.contains { $0.isLetter }, "played: '\(heard)'")
    }
}
