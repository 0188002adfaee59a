// Test support: paths in the repository, the fake OpenAI-compatible server (scripts/fake-openai-server.py), temporary
// folders.

import Foundation
import HarkTestSupport
import Testing

enum Paths {
    /// The repository root.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// Real recordings with transcripts (shared/testdata/speech, beside the repository).
    static let speech = repository.deletingLastPathComponent().appending(path: "shared/testdata/speech")
    /// Where SwiftPM put the built products (harkd): beside the test bundle.
    static var products: URL {
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }
}

/// A folder removed with `remove()`.
struct TemporaryFolder {
    let url: URL

    init(_ name: String = "hark-pipeline") throws {
        url = FileManager.default.temporaryDirectory.appending(
            path: "\(name)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appending(path: name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The fake chat server, running until `stop()`.
final class FakeChatServer: Sendable {
    let process: Process
    let port: Int
    /// Where the server writes each chat request's body.
    let recordPath: String

    /// Starts the server with `reply` as its answer. The wait for its port runs off the cooperative pool: a
    /// blocking read on one of Swift's few cooperative threads could stall every test.
    static func start(reply: String? = nil) async throws -> FakeChatServer {
        try await offCooperativePool { try FakeChatServer(reply: reply) }
    }

    private init(reply: String?) throws {
        let process = Process()
        recordPath = FileManager.default.temporaryDirectory.appending(path: "hark-chat-\(UUID().uuidString).json").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", Paths.repository.appending(path: "scripts/fake-openai-server.py").path, "--record", recordPath]
            + (reply.map { ["--reply", $0] } ?? [])
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The first line is "PORT <n>"; a server that never says it is killed, which ends the read.
        let watchdog = ProcessWatchdog(process, limit: .seconds(120))
        defer { watchdog.cancel() }
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line += byte
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            process.terminate()
            throw ServerError(description: "the fake chat server did not start: '\(text)'")
        }
        self.process = process
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The body of the last chat request it got.
    func lastRequest() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: recordPath))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    func stop() {
        // SIGKILL: the test runner may have SIGTERM ignored, and its children inherit that.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: recordPath)
    }

    struct ServerError: Error, CustomStringConvertible {
        var description: String
    }
}
