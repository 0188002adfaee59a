// Integration tests with real clients (issue 7, "Done when"): the PyPI `wyoming` client (scripts/clients/
// wyoming_client.py) and the PyPI `openai` client (scripts/clients/openai_client.py) against both servers started
// in-process on ephemeral ports with the real default models; curl for the HTTP error cases; a small load test
// through scripts/bench/servers.py (HARK_SERVERS_BENCH=1 runs the full 8 clients × 5 requests).
// Model-backed: run in release (see BENCHMARKS.md).

import Foundation
import Testing

@testable import SpeechServers

@Suite("Servers with real clients", .serialized)
struct ServerIntegrationTests {
    typealias S = ServerTestSupport
    static let clip = "jfk_inaugural_1961.wav"
    static let sentence = "Please turn on the kitchen lights."

    /// Hark's own in-process transcript of a clip: what both servers must return.
    static func inProcess(_ name: String, _ services: SpeechServices) async throws -> String {
        let samples = try SoundFileSamples.whisper(S.clip(name))
        return try await services.transcribe(samples).text
    }

    // MARK: - Wyoming

    @Test("wyoming: describe announces the STT model with its languages and every installed voice with speakers")
    func describe() async throws {
        let servers = try await S.servers()
        let reply = try await S.client("wyoming_client.py", ["--port", "\(servers.wyomingPort)", "describe"])
        let info = try #require(reply["info"] as? [String: Any])
        for key in ["asr", "tts", "handle", "intent", "wake", "mic", "snd"] { #expect(info[key] is [Any], "\(key)") }
        let asr = try #require((info["asr"] as? [[String: Any]])?.first)
        let model = try #require((asr["models"] as? [[String: Any]])?.first)
        #expect(model["name"] as? String == servers.services.sttName)
        #expect(model["languages"] as? [String] == ["en"])
        #expect(model["installed"] as? Bool == true)
        let voices = try #require(reply["tts_voices"] as? [String])
        #expect(voices.contains("en_US-joe-medium"))
        #expect(voices.count == servers.services.voices.count)
        let tts = try #require((info["tts"] as? [[String: Any]])?.first)
        #expect(tts["supports_synthesize_streaming"] as? Bool == true)
    }

    @Test("wyoming: a clip sent as 2-channel audio is transcribed exactly as WhisperTranscriber does in-process")
    func transcribe() async throws {
        let servers = try await S.servers()
        let expected = try await Self.inProcess(Self.clip, servers.services)
        let reply = try await S.client(
            "wyoming_client.py",
            ["--port", "\(servers.wyomingPort)", "transcribe", S.clip(Self.clip), "--channels", "2"])
        #expect(reply["text"] as? String == expected)
        #expect(S.words(expected).starts(with: ["and", "so", "my", "fellow", "americans"]))
    }

    @Test("wyoming: synthesize (voice named) streams chunks that Hark's STT hears back; the streaming events too")
    func synthesize() async throws {
        let servers = try await S.servers()
        let out = S.temporaryFile(".wav")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let reply = try await S.client(
            "wyoming_client.py",
            [
                "--port", "\(servers.wyomingPort)", "synthesize", Self.sentence, "--out", out, "--voice",
                "en_US-joe-medium",
            ])
        #expect(reply["rate"] as? Int == 22050 && reply["width"] as? Int == 2 && reply["channels"] as? Int == 1)
        #expect((reply["chunks"] as? Int ?? 0) >= 2, "audio arrives in several chunks as the decoder makes them")
        #expect(S.words(try await S.hear(out, services: servers.services)) == S.words(Self.sentence))
        // The same 22.05 kHz audio back through Wyoming: the server converts the rate itself.
        let back = try await S.client("wyoming_client.py", ["--port", "\(servers.wyomingPort)", "transcribe", out])
        #expect(S.words(back["text"] as? String ?? "") == S.words(Self.sentence))

        let streamed = try await S.client(
            "wyoming_client.py",
            [
                "--port", "\(servers.wyomingPort)", "synthesize", "Good morning. The kitchen lights are on.", "--out",
                out, "--stream",
            ])
        #expect(streamed["audio_starts"] as? Int == 2, "one audio group per sentence")
        #expect(
            S.words(try await S.hear(out, services: servers.services))
                == S.words("Good morning. The kitchen lights are on."))
    }

    @Test(
        "wyoming: bad input gets an error event and a closed connection; the server stays up",
        arguments: ["notjson", "oversized", "unknown", "truncated", "badlength"])
    func badInput(kind: String) async throws {
        let servers = try await S.servers()
        let reply = try await S.client("wyoming_client.py", ["--port", "\(servers.wyomingPort)", "bad", kind])
        let events = try #require(reply["events"] as? [[String: Any]])
        #expect(events.count == 1)
        #expect(events.first?["type"] as? String == "error")
        #expect(((events.first?["data"] as? [String: Any])?["text"] as? String)?.isEmpty == false)
        #expect(reply["closed"] as? Bool == true)
        let info = try await S.client("wyoming_client.py", ["--port", "\(servers.wyomingPort)", "describe"])
        #expect(info["info"] != nil)
    }

    // MARK: - HTTP with the openai client

    @Test("openai client: speech as wav, flac and streamed pcm, heard back by Hark's STT")
    func speech() async throws {
        let servers = try await S.servers()
        let port = ["--port", "\(servers.httpPort)", "--api-key", S.apiKey]
        for format in ["wav", "flac"] {
            let out = S.temporaryFile(".\(format)")
            defer { try? FileManager.default.removeItem(atPath: out) }
            let reply = try await S.client(
                "openai_client.py", port + ["speech", Self.sentence, "--out", out, "--format", format])
            #expect(reply["content_type"] as? String == "audio/\(format)")
            #expect(S.words(try await S.hear(out, services: servers.services)) == S.words(Self.sentence), "\(format)")
        }
        let raw = S.temporaryFile(".pcm")
        defer { try? FileManager.default.removeItem(atPath: raw) }
        let reply = try await S.client(
            "openai_client.py", port + ["speech", Self.sentence, "--out", raw, "--format", "pcm", "--speed", "1.25"])
        #expect(reply["content_type"] as? String == "audio/pcm")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        let samples = try PCMCodec.monoFloats(bytes, width: 2, channels: 1)
        #expect(Double(samples.count) / 24000 > 1 && Double(samples.count) / 24000 < 6)
        let heard = try await servers.services.transcribe(
            SpeechServices.toWhisperInput(.init(samples: samples, sampleRate: 24000)))
        #expect(S.words(heard.text) == S.words(Self.sentence))
    }

    @Test("openai client: transcriptions in json, text, srt, vtt and verbose_json")
    func transcriptions() async throws {
        let servers = try await S.servers()
        let expected = try await Self.inProcess(Self.clip, servers.services)
        let port = ["--port", "\(servers.httpPort)", "--api-key", S.apiKey]
        let json = try await S.client("openai_client.py", port + ["transcribe", S.clip(Self.clip)])
        #expect((json["result"] as? [String: Any])?["text"] as? String == expected)
        let text = try await S.client("openai_client.py", port + ["transcribe", S.clip(Self.clip), "--format", "text"])
        #expect((text["result"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        let srt = try await S.client("openai_client.py", port + ["transcribe", S.clip(Self.clip), "--format", "srt"])
        #expect((srt["result"] as? String)?.hasPrefix("1\n00:00:0") == true)
        let vtt = try await S.client("openai_client.py", port + ["transcribe", S.clip(Self.clip), "--format", "vtt"])
        #expect((vtt["result"] as? String)?.hasPrefix("WEBVTT") == true)
        let verbose = try await S.client(
            "openai_client.py",
            port + ["transcribe", S.clip(Self.clip), "--format", "verbose_json", "--language", "en"])
        let object = try #require(verbose["result"] as? [String: Any])
        #expect(object["text"] as? String == expected)
        #expect((object["segments"] as? [Any])?.isEmpty == false)
        #expect(abs((object["duration"] as? Double ?? 0) - 11) < 0.1)
        let models = try await S.client("openai_client.py", port + ["models"])
        #expect((models["ids"] as? [String])?.contains(servers.services.sttName) == true)
        let auth = try await S.client("openai_client.py", port + ["error-auth"])
        #expect(auth["status"] as? Int == 401)
    }

    // MARK: - HTTP errors with curl

    @Test("curl: malformed JSON, truncated multipart, missing auth, oversized upload, unknown route, bad format")
    func httpErrors() async throws {
        let servers = try await S.servers()
        let base = "http://127.0.0.1:\(servers.httpPort)"
        let auth = ["-H", "Authorization: Bearer \(S.apiKey)"]
        func expectError(_ r: (status: Int, body: String), _ status: Int, _ note: String) {
            #expect(r.status == status, "\(note): \(r.body)")
            let object = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            #expect(
                error?["message"] is String && error?["type"] is String && error?["code"] is String,
                "\(note): \(r.body)")
        }
        expectError(
            try await S.curl(
                auth + [
                    "-X", "POST", "\(base)/v1/audio/speech", "-H", "Content-Type: application/json", "-d",
                    "{\"input\": ",
                ]),
            400, "malformed JSON")
        expectError(
            try await S.curl(
                auth + ["-X", "POST", "\(base)/v1/audio/speech", "-d", #"{"model": "tts-1", "voice": "alloy"}"#]),
            400, "missing input")
        expectError(
            try await S.curl(
                auth + [
                    "-X", "POST", "\(base)/v1/audio/speech", "-d",
                    #"{"input": "Hi.", "voice": "alloy", "response_format": "mp3"}"#,
                ]),
            400, "mp3")
        expectError(
            try await S.curl(
                auth + ["-X", "POST", "\(base)/v1/audio/speech", "-d", #"{"input": "Hi.", "voice": "nobody"}"#]),
            404, "unknown voice")
        let truncated = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF....."
        expectError(
            try await S.curl(
                auth + [
                    "-X", "POST", "\(base)/v1/audio/transcriptions", "-H",
                    "Content-Type: multipart/form-data; boundary=XyZ",
                    "--data-binary", truncated,
                ]),
            400, "truncated multipart")
        expectError(
            try await S.curl(
                auth + [
                    "-X", "POST", "\(base)/v1/audio/transcriptions", "-F", "model=whisper-1", "-F",
                    "file=@/etc/hostname",
                ]),
            400, "not audio")
        expectError(try await S.curl(["\(base)/v1/models"]), 401, "missing auth")
        expectError(try await S.curl(["-H", "Authorization: Bearer nope", "\(base)/v1/models"]), 401, "wrong key")
        let big = S.temporaryFile(".bin")
        defer { try? FileManager.default.removeItem(atPath: big) }
        try Data(count: S.maxBodyBytes + 1024).write(to: URL(fileURLWithPath: big))
        let oversized = try await S.curl(
            auth + ["-X", "POST", "\(base)/v1/audio/transcriptions", "-F", "model=whisper-1", "-F", "file=@\(big)"])
        expectError(oversized, 413, "oversized upload")
        expectError(try await S.curl(auth + ["\(base)/v1/nothing"]), 404, "unknown route")
        let health = try await S.curl(["\(base)/health"])
        #expect(health.status == 200 && health.body.contains("\"ok\""))
    }

    @Test("a client that leaves mid-stream frees the voice; the next request is served")
    func disconnect() async throws {
        let servers = try await S.servers()
        let url = "http://127.0.0.1:\(servers.httpPort)/v1/audio/speech"
        // Several minutes of audio, whose synthesis (about 5 s here) outlasts the client's 1 s timeout.
        let long = String(repeating: "This paragraph is long enough to stream for a while. ", count: 60)
        let body = #"{"model": "tts-1", "voice": "alloy", "input": "\#(long)", "response_format": "pcm"}"#
        let aborted = try await S.runOffPool(
            "/usr/bin/curl",
            [
                "-s", "-N", "--max-time", "1", "-o", "/dev/null", "-H", "Authorization: Bearer \(S.apiKey)", "-d", body,
                url,
            ])
        #expect(aborted.status == 28, "curl should time out mid-stream (status \(aborted.status))")
        let voice = try await servers.services.voice(named: nil)
        let deadline = ContinuousClock.now + .seconds(60)
        while voice.queue.load > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(voice.queue.load == 0, "the abandoned stream still holds the voice")
        let out = S.temporaryFile(".wav")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let reply = try await S.client(
            "openai_client.py",
            ["--port", "\(servers.httpPort)", "--api-key", S.apiKey, "speech", Self.sentence, "--out", out])
        #expect(reply["content_type"] as? String == "audio/wav")
    }

    // MARK: - Load

    @Test("load: concurrent clients over both protocols, mixed requests, every answer correct, memory bounded")
    func load() async throws {
        let servers = try await S.servers()
        let full = ProcessInfo.processInfo.environment["HARK_SERVERS_BENCH"] == "1"
        let expected = try await Self.inProcess(Self.clip, servers.services)
        let before = S.residentKilobytes()
        let python = try S.python()
        let arguments = [
            S.repositoryRoot.appending(path: "scripts/bench/servers.py").path,
            "--wyoming", "127.0.0.1:\(servers.wyomingPort)", "--http", "127.0.0.1:\(servers.httpPort)",
            "--api-key", S.apiKey, "--clip", S.clip(Self.clip), "--expect", expected,
            "--clients", full ? "8" : "4", "--requests", full ? "5" : "2",
        ]
        let result = try await S.runOffPool(python, arguments)
        let after = S.residentKilobytes()
        print(
            "servers load: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) rss_kb_before=\(before) rss_kb_after=\(after)"
        )
        #expect(result.status == 0, "\(result.output) \(result.error)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(report["correct"] as? Int == report["requests"] as? Int)
        // Bounded: the queues hold at most depth requests; growth is a few buffers, not a backlog.
        #expect(after - before < 512 * 1024, "RSS grew by \(after - before) kB")
    }
}

/// A test clip as Whisper input.
enum SoundFileSamples {
    static func whisper(_ path: String) throws -> [Float] {
        try SpeechServices.samples(ofFile: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), maxSeconds: 600)
    }
}
