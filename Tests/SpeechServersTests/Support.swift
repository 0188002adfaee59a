// Shared servers for the integration tests: the real default models (Whisper tiny.en, en_US-joe-medium) loaded once,
// both servers started in-process on ephemeral ports, and the helpers that run the real clients (PyPI wyoming and
// openai through scripts/clients/, curl) against them.

import AudioIO
import Foundation
import HarkTestSupport
import Logging
import ModelStore

@testable import SpeechServers

enum ServerTestSupport {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let speechDirectory = repositoryRoot.deletingLastPathComponent().appending(path: "shared/testdata/speech")
    static let apiKey = "hark-test-key"
    /// Small, so that the oversized-upload case is quick.
    static let maxBodyBytes = 4 << 20

    /// The venv's Python (`HARK_REFERENCE_PYTHON`, else `<repo>/.venv/bin/python`), with wyoming and openai.
    static func python() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["HARK_REFERENCE_PYTHON"]
            ?? repositoryRoot.appending(path: ".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("no reference Python at \(path): run scripts/reference-env (it installs wyoming and openai)")
        }
        return path
    }

    struct Running: Sendable {
        let services: SpeechServices
        let wyomingPort: Int
        let httpPort: Int
    }

    /// The servers, started once for the whole test process.
    static func servers() async throws -> Running {
        try await SharedServers.shared.get()
    }

    actor SharedServers {
        static let shared = SharedServers()
        private var running: Task<Running, any Error>?

        func get() async throws -> Running {
            if let running { return try await running.value }
            let task = Task { try await ServerTestSupport.start() }
            running = task
            return try await task.value
        }
    }

    private static func start() async throws -> Running {
        var logger = Logger(label: "hark.servers.test")
        logger.logLevel = .warning
        let services = try await SpeechServices.load(store: try ModelStore(), logger: logger)
        var configuration = ServerConfiguration(
            wyoming: "tcp://127.0.0.1:0", http: "127.0.0.1:0", apiKey: apiKey, queueDepth: 16)
        configuration.limits.maxBodyBytes = maxBodyBytes
        let (stream, continuation) = AsyncStream.makeStream(of: BoundAddresses.self)
        Task.detached {
            do {
                try await runServers(configuration: configuration, services: services, logger: logger) { bound in
                    continuation.yield(bound)
                    continuation.finish()
                }
            } catch {
                continuation.finish()
            }
        }
        var iterator = stream.makeAsyncIterator()
        guard let bound = await iterator.next(), let wyoming = bound.wyoming, let http = bound.http else {
            throw Failure("the servers did not start")
        }
        return Running(services: services, wyomingPort: wyoming.port, httpPort: http.port)
    }

    /// Runs a process; its standard output, error and status (`ChildProcess.run`: killed after `limit`).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], limit: Duration = .seconds(300)) throws
        -> ChildProcess.Result
    {
        try ChildProcess.run(URL(fileURLWithPath: executable), arguments, limit: limit)
    }

    /// `run` off Swift's cooperative pool, where the servers under test run (`ChildProcess.runOffPool`).
    static func runOffPool(_ executable: String, _ arguments: [String], limit: Duration = .seconds(300)) async throws
        -> ChildProcess.Result
    {
        try await ChildProcess.runOffPool(URL(fileURLWithPath: executable), arguments, limit: limit)
    }

    /// Runs a client script and decodes the JSON it prints.
    static func client(_ script: String, _ arguments: [String]) async throws -> [String: Any] {
        let python = try python()
        let path = repositoryRoot.appending(path: "scripts/clients/\(script)").path
        let result = try await runOffPool(python, [path] + arguments)
        guard result.status == 0,
            let object = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else {
            throw Failure(
                "\(script) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output) \(result.error)"
            )
        }
        return object
    }

    /// curl, returning the status code and body.
    static func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
        let result = try await runOffPool(
            "/usr/bin/curl", ["-s", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}"] + arguments)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        guard let status = lines.last.flatMap({ Int($0) }) else { throw Failure("curl failed: \(result.error)") }
        return (status, lines.dropLast().joined(separator: "\n"))
    }

    /// The transcript of a test clip: text and the file path.
    static func clip(_ name: String) -> String { speechDirectory.appending(path: name).path }

    /// Lower-case words without punctuation.
    static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "'" }).map(String.init)
    }

    /// What Hark's own STT hears in a sound file (any rate): the round-trip check for synthesized speech.
    static func hear(_ path: String, services: SpeechServices) async throws -> String {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let samples = try SpeechServices.samples(ofFile: bytes, maxSeconds: 600)
        return try await services.transcribe(samples).text
    }

    /// Resident memory of this process, kB (Linux).
    static func residentKilobytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    static func temporaryFile(_ suffix: String) -> String {
        FileManager.default.temporaryDirectory.appending(path: "hark-servers-\(UUID().uuidString)\(suffix)").path
    }
}
