// Faults of the harkd daemon, run as a user runs it against ALSA file devices: a missing capture device, a malformed
// config, an unreachable language model, capture overruns (injected, see AudioIO's InjectedFaults: ALSA's file
// devices never overrun by themselves) and SIGINT in the middle of a session. Each run has a watchdog, so a daemon
// that hangs fails its test instead of stalling the suite.

import AudioIO
import Foundation
import HarkTestSupport
import SpeechPipeline
import Testing

/// harkd running in the background: its standard output (events) read line by line as it comes, its log in a file.
final class RunningDaemon: Sendable {
    let process: Process
    let logPath: String
    /// Kills a harkd that hangs, so that no read of its output or wait for its end lasts forever.
    let watchdog: ProcessWatchdog
    /// Standard output, line by line.
    let lines: AsyncStream<String>
    private let exits: AsyncStream<Int32>

    /// Starts harkd with `arguments`, its network servers off (tests run side by side; the default ports would clash).
    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = Paths.products.appending(path: "harkd")
        process.arguments = arguments + ["--wyoming", "off", "--http", "off"]
        logPath = FileManager.default.temporaryDirectory.appending(path: "harkd-log-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let output = Pipe()
        process.standardOutput = output
        let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
        self.exits = exits
        process.terminationHandler = { process in
            exited.yield(process.terminationStatus)
            exited.finish()
        }
        let (lines, line) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        try process.run()
        watchdog = ProcessWatchdog(process, limit: .seconds(180))
        let handle = output.fileHandleForReading
        Thread {
            for text in LineReader(handle) { line.yield(text) }
            line.finish()
        }.start()
    }

    /// The exit status, or nil when it had not exited after `limit` (it is then killed). A harkd the watchdog
    /// killed is a failure that shows where it hung.
    func exitStatus(within limit: Duration = .seconds(120)) async -> Int32? {
        defer {
            if let stacks = watchdog.stacks { Issue.record("harkd hung and was killed; its threads:\n\(stacks)") }
        }
        let exits = self.exits
        let process = self.process
        return await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await exits.first { _ in true } }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if first == nil, process.isRunning {
                let stacks = ProcessWatchdog.stacks(of: process.processIdentifier)
                Issue.record("harkd had not exited after \(limit); its threads:\n\(stacks)")
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            return first
        }
    }

    /// Standard output until the end (or until the process was killed).
    func output() async -> [String] {
        var all: [String] = []
        for await line in lines { all.append(line) }
        return all
    }

    /// What it logged.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func remove() {
        watchdog.cancel()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

@Suite("harkd faults", .serialized)
struct HarkdFaultTests {
    let e2e: EndToEndTests

    init() throws {
        e2e = try EndToEndTests()
    }

    /// A folder with `input` as the capture file and an asoundrc defining `hark_in` and `hark_out` on files.
    static func devices(_ input: [Float], wav: Bool = false) throws -> TemporaryFolder {
        let folder = try TemporaryFolder("harkd-fault")
        try EndToEndTests.rawBytes(input).write(to: URL(fileURLWithPath: folder.file("capture.raw")))
        let alsa = ALSAConfiguration.fileCapture(named: "hark_in", from: folder.file("capture.raw"))
            .appending(
                .filePlayback(named: "hark_out", to: folder.file(wav ? "playback.wav" : "playback.raw"), wav: wav))
        try alsa.text.write(toFile: folder.file("asoundrc"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Arguments that run harkd on the folder's devices in virtual time, printing events.
    static func arguments(_ folder: TemporaryFolder, seconds: Double?, llmURL: String = "") -> [String] {
        [
            "--capture", "hark_in", "--playback", "hark_out", "--alsa-config", folder.file("asoundrc"), "--events",
            "--virtual-time", "--llm-url", llmURL,
        ] + (seconds.map { ["--exit-after", "\($0)"] } ?? [])
    }

    static func events(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func states(_ events: [[String: Any]]) -> [String] {
        var states: [String] = []
        for event in events where event["event"] as? String == "state" {
            let state = event["state"] as? String ?? ""
            if states.last != state { states.append(state) }
        }
        return states
    }

    // MARK: - Tests

    @Test("A missing capture device: harkd exits non-zero with a message naming the device, and --check says so")
    func missingCaptureDevice() async throws {
        let daemon = try RunningDaemon(["--capture", "no_such_device", "--playback", "null", "--llm-url", ""])
        defer { daemon.remove() }
        let status = await daemon.exitStatus()
        #expect(status == 1, "\(daemon.log)")
        #expect(daemon.log.contains("harkd: no sound device 'no_such_device' for capture"), "\(daemon.log)")
        #expect(!daemon.log.contains("Fatal error"))

        let check = try RunningDaemon(["--check", "--capture", "no_such_device", "--playback", "null", "--llm-url", ""])
        defer { check.remove() }
        let checkStatus = await check.exitStatus()
        let output = await check.output().joined(separator: "\n")
        #expect(checkStatus == 1)
        #expect(output.contains("error: capture device 'no_such_device': no sound device"), "\(output)")
        #expect(output.contains("ok: playback device 'null'"), "\(output)")
    }

    @Test("A malformed config file: exit status 2 and the error names the file and the line or the key")
    func malformedConfig() async throws {
        let folder = try TemporaryFolder("harkd-config")
        defer { folder.remove() }
        let syntax = folder.file("syntax.json")
        try "{\n  \"captureDevice\": \"hark_in\",\n  \"bargeIn\": true,,\n}\n".write(
            toFile: syntax, atomically: true, encoding: .utf8)
        let daemon = try RunningDaemon(["--config", syntax])
        defer { daemon.remove() }
        #expect(await daemon.exitStatus() == 2)
        #expect(daemon.log.contains("harkd: \(syntax) is not a valid harkd config"), "\(daemon.log)")
        #expect(daemon.log.contains("line 3, column"), "\(daemon.log)")

        let typed = folder.file("typed.json")
        try #"{"vad": {"silence": "long"}}"#.write(toFile: typed, atomically: true, encoding: .utf8)
        let typedRun = try RunningDaemon(["--config", typed])
        defer { typedRun.remove() }
        #expect(await typedRun.exitStatus() == 2)
        #expect(typedRun.log.contains(typed) && typedRun.log.contains("vad.silence"), "\(typedRun.log)")
    }

    @Test("With its language-model server down, harkd apologises aloud, keeps listening and exits cleanly")
    func languageModelDown() async throws {
        let input =
            EndToEndTests.silence(1) + (try EndToEndTests.recording("cmu_pocketsphinx_goforward.wav"))
            + EndToEndTests.silence(3)
        let folder = try Self.devices(input)
        defer { folder.remove() }
        let daemon = try RunningDaemon(
            Self.arguments(folder, seconds: Double(input.count) / 16_000, llmURL: "http://127.0.0.1:9"))
        defer { daemon.remove() }
        let output = await daemon.output()
        #expect(await daemon.exitStatus() == 0, "\(daemon.log)")
        let events = Self.events(output)
        #expect(Self.states(events) == EndToEndTests.turn.map(\.rawValue), "\(output)")
        let sources = events.filter { $0["event"] as? String == "sentence" }.map { $0["source"] as? String }
        #expect(sources == ["apology"], "\(output)")
        #expect(daemon.log.contains("language model"), "\(daemon.log)")

        let check = try RunningDaemon([
            "--check", "--capture", "null", "--playback", "null", "--llm-url", "http://127.0.0.1:9",
        ])
        defer { check.remove() }
        let checkOutput = await check.output().joined(separator: "\n")
        #expect(await check.exitStatus() == 0, "\(checkOutput)")
        #expect(checkOutput.contains("warning: language model"), "\(checkOutput)")
    }

    @Test("An injected overrun goes through snd_pcm_recover on the real device; no audio is lost")
    func injectedOverrunInCapture() async throws {
        let folder = try TemporaryFolder("capture-xrun")
        defer { folder.remove() }
        let input = (0..<16_000).map { Float(($0 % 200) - 100) / 400 }
        try EndToEndTests.rawBytes(input).write(to: URL(fileURLWithPath: folder.file("in.raw")))
        let capture = try ALSACapture(
            device: "hark_in", sampleRate: 16_000,
            configuration: .fileCapture(named: "hark_in", from: folder.file("in.raw")),
            faults: InjectedFaults(overrunsAtFrames: [4_000, 9_000]))
        var read: [Float] = []
        for try await chunk in capture.chunks(totalFrames: input.count) { read += chunk.samples }
        #expect(await capture.xrunCount == 2)
        #expect(read.count == input.count)
        let written = try EndToEndTests.samples(ofRaw: folder.file("in.raw"))
        #expect(read == written)
        await capture.close()
    }

    @Test("harkd logs injected capture overruns, recovers, and still answers the question that follows")
    func overrunThenQuestion() async throws {
        let question = try await e2e.spoken("What time is it?")
        let input = EndToEndTests.silence(1) + question + EndToEndTests.silence(3)
        let folder = try Self.devices(input)
        defer { folder.remove() }
        // One overrun before the question, one in the middle of it.
        let daemon = try RunningDaemon(
            Self.arguments(folder, seconds: Double(input.count) / 16_000) + [
                "--inject-overrun-at", "0.5", "--inject-overrun-at", "\(1 + Double(question.count) / 32_000)",
            ])
        defer { daemon.remove() }
        let output = await daemon.output()
        #expect(await daemon.exitStatus() == 0, "\(daemon.log)")
        #expect(daemon.log.contains("capture overrun (not read); recovering (xrun 1)"), "\(daemon.log)")
        #expect(daemon.log.contains("recovering (xrun 2)"), "\(daemon.log)")
        let events = Self.events(output)
        #expect(Self.states(events) == EndToEndTests.turn.map(\.rawValue), "\(output)")
        #expect(
            events.contains { $0["event"] as? String == "intent" && $0["intent"] as? String == "time" }, "\(output)")
    }

    @Test("SIGINT in the middle of a session: harkd exits 0 and leaves a complete playback WAV")
    func interrupt() async throws {
        let input = EndToEndTests.silence(1) + (try await e2e.spoken("What can you do?")) + EndToEndTests.silence(3)
        let folder = try Self.devices(input, wav: true)
        defer { folder.remove() }
        // No --exit-after: the file device goes on delivering silence, so only the signal ends the daemon.
        let daemon = try RunningDaemon(Self.arguments(folder, seconds: nil))
        defer { daemon.remove() }
        // One iterator throughout: an AsyncStream ends when its iterator goes away.
        var lines = daemon.lines.makeAsyncIterator()
        var output: [String] = []
        while let line = await lines.next() {
            output.append(line)
            if line.contains(#""state":"speaking""#) { break }
        }
        #expect(output.last?.contains("speaking") == true, "\(output) \(daemon.log)")
        daemon.process.interrupt()
        while let line = await lines.next() { output.append(line) }
        #expect(await daemon.exitStatus() == 0, "\(daemon.log)")
        #expect(daemon.log.contains("shutting down: signal 2"), "\(daemon.log)")
        #expect(daemon.log.contains("stopped"), "\(daemon.log)")
        #expect(output.last?.contains("inputEnded") == true, "\(output)")
        // The WAV header's sizes were written when the device closed: they match the file.
        let wav = try Data(contentsOf: URL(fileURLWithPath: folder.file("playback.wav")))
        // The signal may come before the first chunk reached the device: the header alone is then the whole file.
        #expect(wav.count >= 44)
        func word(_ at: Int) -> Int { wav[at..<(at + 4)].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) } }
        #expect(String(decoding: wav[0..<4], as: UTF8.self) == "RIFF")
        #expect(word(4) == wav.count - 8)
        let played = try SoundFile.read(path: folder.file("playback.wav"))
        #expect(played.sampleRate == e2e.models.synthesizer.sampleRate)
        #expect(played.samples.count * 2 == wav.count - 44)
    }
}
