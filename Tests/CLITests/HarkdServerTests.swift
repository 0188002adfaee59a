// harkd's network faces, end to end (issue 7): the built `harkd` started on ephemeral ports (`tcp://127.0.0.1:0`),
// found through the address it logs once it listens, and driven by the real PyPI clients (scripts/clients/: wyoming
// and openai) and curl: --no-audio with an API key, SIGTERM draining a request in flight, and the voice loop on
// ALSA file devices with the servers beside it. Needs the default models and HARK_REFERENCE_PYTHON (or
// <repo>/.venv) with wyoming and openai.

import Foundation
import HarkTestSupport
import Synchronization
import Testing

@Suite("harkd with its servers", .serialized)
struct HarkdServerTests {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let speech = repositoryRoot.deletingLastPathComponent().appending(path: "shared/testdata/speech")
    static let clip = speech.appending(path: "jfk_inaugural_1961.wav").path
    static let apiKey = "harkd-test-key"

    /// Where SwiftPM put the products: beside the test bundle (on Linux, the folder of the test runner).
    static var products: URL {
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    static func python() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["HARK_REFERENCE_PYTHON"]
            ?? repositoryRoot.appending(path: ".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("no reference Python at \(path): run scripts/reference-env (it installs wyoming and openai)")
        }
        return path
    }

    /// Runs a process to its end off the cooperative pool (`ChildProcess.runOffPool`: killed after `limit`).
    static func run(_ executable: String, _ arguments: [String], limit: Duration = .seconds(300)) async throws
        -> ChildProcess.Result
    {
        try await ChildProcess.runOffPool(URL(fileURLWithPath: executable), arguments, limit: limit)
    }

    /// Runs a client script (scripts/clients/) and decodes the JSON object it prints.
    static func client(_ script: String, _ arguments: [String]) async throws -> [String: Any] {
        let path = repositoryRoot.appending(path: "scripts/clients/\(script)").path
        let result = try await run(try python(), [path] + arguments)
        guard result.status == 0,
            let object = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else { throw Failure("\(script) \(arguments) failed (\(result.status)): \(result.output) \(result.error)") }
        return object
    }

    /// The transcript `transcribe` prints for a file, its lines joined with spaces.
    static func transcribeCLI(_ path: String) async throws -> String {
        let result = try await run(products.appending(path: "transcribe").path, [path])
        guard result.status == 0 else { throw Failure("transcribe failed: \(result.error)") }
        return result.output.split(separator: "\n").joined(separator: " ")
    }

    // MARK: - A running harkd

    /// Bytes another thread collects from a pipe.
    final class Collected: Sendable {
        private let data = Mutex(Data())
        func append(_ more: Data) { data.withLock { $0 += more } }
        var text: String { String(decoding: data.withLock { $0 }, as: UTF8.self) }
    }

    /// harkd running in the background: its log read as it comes, the addresses once it listens. (Unchecked: the
    /// Process is only read once started.)
    final class Daemon: @unchecked Sendable {
        let process: Process
        private let log = Collected()
        private let events = Collected()
        private let ready: Task<(wyoming: Int, http: Int)?, Never>
        private let ended: Task<Int32, Never>
        /// Kills a harkd that hangs, so that a test waiting for its end cannot wait forever.
        private let watchdog: ProcessWatchdog

        init(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = HarkdServerTests.products.appending(path: "harkd")
            process.arguments = arguments
            let (out, err) = (Pipe(), Pipe())
            process.standardOutput = out
            process.standardError = err
            try process.run()
            self.process = process
            watchdog = ProcessWatchdog(process, limit: .seconds(300))
            let (events, log) = (events, log)
            // The log is read line by line as it comes; the first "listening:" line gives the ports.
            let (lines, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(256))
            let logThread = Thread {
                var pending = Data()
                while case let data = err.fileHandleForReading.availableData, !data.isEmpty {
                    pending += data
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending = pending[(newline + 1)...]
                        log.append(Data((line + "\n").utf8))
                        continuation.yield(line)
                    }
                }
                continuation.finish()
            }
            logThread.start()
            ready = Task {
                for await line in lines where line.contains("listening: ") {
                    return (
                        Self.port(in: line, after: "Wyoming tcp://") ?? 0,
                        Self.port(in: line, after: "HTTP http://") ?? 0
                    )
                }
                return nil
            }
            // Standard output (the --events lines) is collected as it comes, so that it never fills up.
            ended = Task {
                (try? await offCooperativePool {
                    events.append(out.fileHandleForReading.readDataToEndOfFile())
                    process.waitUntilExit()
                    return process.terminationStatus
                }) ?? -1
            }
        }

        /// The bound ports (0 for a server that is off), once harkd listens.
        func ports() async throws -> (wyoming: Int, http: Int) {
            guard let ports = await ready.value else {
                throw Failure("harkd ended before it listened: \(log.text)")
            }
            return ports
        }

        /// Waits for the end; its status. A harkd that outlived the watchdog is a failure that shows its stacks.
        func exitStatus() async -> Int32 {
            let status = await ended.value
            if let stacks = watchdog.stacks { Issue.record("harkd hung and was killed; its threads:\n\(stacks)") }
            return status
        }

        var logText: String { log.text }

        /// The --events lines, decoded (complete once harkd has ended).
        var eventObjects: [[String: Any]] {
            events.text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        deinit {
            watchdog.cancel()
            if process.isRunning { process.terminate() }
        }

        static func port(in line: String, after marker: String) -> Int? {
            guard let start = line.range(of: marker)?.upperBound else { return nil }
            let address = line[start...].prefix { $0 != "," && $0 != " " }
            return address.split(separator: ":").last.flatMap { Int($0) }
        }
    }

    // MARK: - Tests

    @Test("harkd rejects a malformed server address before loading anything")
    func badAddress() async throws {
        let harkd = Self.products.appending(path: "harkd").path
        let wyoming = try await Self.run(harkd, ["--check", "--no-audio", "--wyoming", "udp://127.0.0.1:1"])
        #expect(wyoming.status == 2)
        #expect(wyoming.error.contains("--wyoming must be tcp://HOST:PORT or off"), "\(wyoming.error)")
        let both = try await Self.run(harkd, ["--no-audio", "--wyoming", "off", "--http", "off"])
        #expect(both.status == 2)
        #expect(both.error.contains("nothing to run"), "\(both.error)")

        // The same settings in the config file's "servers" section.
        let config = FileManager.default.temporaryDirectory.appending(path: "harkd-servers-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: config) }
        try #"{"servers": {"http": 8080}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let typed = try await Self.run(harkd, ["--check", "--config", config])
        #expect(typed.status == 2)
        #expect(typed.error.contains("servers.http"), "\(typed.error)")
        try #"{"servers": {"noAudio": true, "http": "localhost"}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let malformed = try await Self.run(harkd, ["--check", "--config", config])
        #expect(malformed.status == 2)
        #expect(malformed.error.contains("--http must be HOST:PORT or off, got 'localhost'"), "\(malformed.error)")
    }

    @Test(
        "harkd --no-audio: Wyoming describe and transcribe, OpenAI speech, 401 without the key, --check sees the port taken, and SIGTERM lets a streamed request finish before it exits 0"
    )
    func noAudio() async throws {
        let daemon = try Daemon([
            "--no-audio", "--wyoming", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--api-key", Self.apiKey,
            "--llm-url", "",
        ])
        let (wyoming, http) = try await daemon.ports()
        #expect(wyoming > 0 && http > 0, "\(daemon.logText)")

        let described = try await Self.client("wyoming_client.py", ["--port", "\(wyoming)", "describe"])
        let info = try #require(described["info"] as? [String: Any])
        #expect((info["asr"] as? [Any])?.isEmpty == false && (info["tts"] as? [Any])?.isEmpty == false)
        #expect((described["tts_voices"] as? [String])?.contains("en_US-joe-medium") == true)

        async let expected = Self.transcribeCLI(Self.clip)
        let transcript = try await Self.client("wyoming_client.py", ["--port", "\(wyoming)", "transcribe", Self.clip])
        #expect(transcript["text"] as? String == (try await expected))

        let wav = FileManager.default.temporaryDirectory.appending(path: "harkd-speech-\(getpid()).wav").path
        defer { try? FileManager.default.removeItem(atPath: wav) }
        let spoken = try await Self.client(
            "openai_client.py",
            ["--port", "\(http)", "--api-key", Self.apiKey, "speech", "Hello from the daemon.", "--out", wav])
        #expect(spoken["content_type"] as? String == "audio/wav")
        let audio = try Data(contentsOf: URL(fileURLWithPath: wav))
        #expect(audio.starts(with: Data("RIFF".utf8)) && audio.count > 22_050, "\(audio.count) bytes")

        // The chat API answers from the in-process model harkd loaded for its assistant.
        let chat = try await Self.client(
            "openai_client.py",
            [
                "--port", "\(http)", "--api-key", Self.apiKey, "chat", #"[{"role": "user", "content": "Say hello."}]"#,
                "--max-tokens", "8", "--temperature", "0",
            ])
        #expect(chat["object"] as? String == "chat.completion", "\(chat)")
        #expect((chat["text"] as? String)?.isEmpty == false, "\(chat)")
        #expect((chat["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0 > 0, "\(chat)")

        let refused = try await Self.client("openai_client.py", ["--port", "\(http)", "error-auth"])
        #expect(refused["status"] as? Int == 401, "\(refused)")

        let check = try await Self.run(
            Self.products.appending(path: "harkd").path,
            ["--check", "--no-audio", "--llm-url", "", "--wyoming", "off", "--http", "127.0.0.1:\(http)"])
        #expect(check.status != 0)
        #expect(check.output.contains("error: HTTP API on 127.0.0.1:\(http): the address is in use"), "\(check.output)")
        #expect(check.output.contains("ok: Wyoming off"), "\(check.output)")

        // SIGTERM once a streamed reply has begun: it must still arrive whole (curl fails on a cut chunked body).
        let body = """
            {"model": "tts-1", "voice": "alloy", "response_format": "pcm", \
            "input": "The daemon is asked to stop now. It finishes this sentence first, and this one too."}
            """
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = [
            "-sS", "-N", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}", "-H",
            "Authorization: Bearer \(Self.apiKey)", "-d", body,
            "http://127.0.0.1:\(http)/v1/audio/speech",
        ]
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let (first, rest) = try await offCooperativePool {
            let first = pipe.fileHandleForReading.availableData  // blocks until the reply starts
            daemon.signal(SIGTERM)
            return (first, pipe.fileHandleForReading.readDataToEndOfFile())
        }
        try await offCooperativePool { curl.waitUntilExit() }
        let reply = first + rest
        #expect(!first.isEmpty)
        #expect(curl.terminationStatus == 0, "curl: \(curl.terminationStatus)")
        #expect(String(decoding: reply.suffix(4), as: UTF8.self) == "\n200")
        // More than two seconds of 22.05 kHz 16-bit audio: the whole reply, not its first chunk.
        #expect(reply.count > 2 * 22_050 * 2, "\(reply.count) bytes")
        #expect(await daemon.exitStatus() == 0, "\(daemon.logText)")
        #expect(daemon.logText.contains("shutting down: signal 15"), "\(daemon.logText)")
    }

    @Test(
        "harkd with audio on and the servers beside it: the voice loop answers through ALSA file devices while both servers answer clients, on the models loaded once"
    )
    func audioAndServers() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "harkd-both-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ name: String) -> String { folder.appending(path: name).path }
        // Capture reads a FIFO, so the voice loop waits for the test's audio instead of reading a file at full speed.
        #expect(mkfifo(file("capture.fifo"), 0o600) == 0)
        try """
        pcm."hark_in" { type file slave { pcm { type null } } file "/dev/null" infile "\(file("capture.fifo"))" format raw }
        pcm."hark_out" { type file slave { pcm { type null } } file "\(file("playback.raw"))" format raw }
        """.write(toFile: file("asoundrc"), atomically: true, encoding: .utf8)
        try """
        {"captureDevice": "hark_in", "playbackDevice": "hark_out", "llm": {"url": null},
         "servers": {"wyoming": "tcp://127.0.0.1:0", "http": "127.0.0.1:0"}}
        """.write(toFile: file("harkd.json"), atomically: true, encoding: .utf8)

        let speech = try Self.pcm16(ofWAV: Self.clip)
        let silence = { (seconds: Int) in Data(count: seconds * 16_000 * 2) }
        let input = silence(1) + speech + silence(6)
        let seconds = Double(input.count / 2) / 16_000
        let daemon = try Daemon([
            "--config", file("harkd.json"), "--alsa-config", file("asoundrc"), "--events", "--virtual-time",
            "--exit-after", "\(seconds)",
        ])
        // Opening the FIFO's writing end waits for harkd to open the capture device.
        let fifo = file("capture.fifo")
        let writer = Task { try await offCooperativePool { FileHandle(forWritingAtPath: fifo) } }
        let (wyoming, http) = try await daemon.ports()

        // Both servers answer while the voice loop listens.
        async let transcript = Self.client("wyoming_client.py", ["--port", "\(wyoming)", "transcribe", Self.clip])
        let wav = file("speech.wav")
        async let spoken = Self.client(
            "openai_client.py", ["--port", "\(http)", "speech", "The servers share the voice.", "--out", wav])
        let expected = try await Self.transcribeCLI(Self.clip)
        #expect(try await transcript["text"] as? String == expected)
        #expect(try await spoken["content_type"] as? String == "audio/wav")

        // Then the voice loop hears the clip, answers, and harkd ends with its input (--exit-after).
        let handle = try #require(try await writer.value)
        try handle.write(contentsOf: input)
        try handle.close()
        #expect(await daemon.exitStatus() == 0, "\(daemon.logText)")
        let events = daemon.eventObjects
        let heard = events.first { $0["event"] as? String == "transcript" }?["text"] as? String ?? ""
        #expect(heard.lowercased().contains("my fellow americans"), "\(events)")
        #expect(events.contains { $0["event"] as? String == "sentence" }, "\(events)")
        let played = try Data(contentsOf: URL(fileURLWithPath: file("playback.raw")))
        #expect(played.count > 22_050 * 2, "\(played.count) bytes played")
        // One Whisper model and one voice loaded (the servers got the voice loop's).
        #expect(daemon.logText.components(separatedBy: "loaded Whisper").count == 2, "\(daemon.logText)")
        #expect(!daemon.logText.contains("loading voice"), "\(daemon.logText)")
    }

    /// The 16-bit samples of a WAV file's data chunk.
    static func pcm16(ofWAV path: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var offset = 12
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<offset + 4], as: UTF8.self)
            let size = data[offset + 4..<offset + 8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            if id == "data" { return data[offset + 8..<min(data.count, offset + 8 + size)] }
            offset += 8 + size + size % 2
        }
        throw Failure("\(path) has no data chunk")
    }
}
