// runServers' shutdown (issue 7: "SIGTERM drains in-flight requests, then exits"): cancelling the task that runs
// the servers lets a request in flight finish, then returns; new connections are refused afterwards.

import Foundation
import Logging
import Testing

@testable import SpeechServers

// In the integration suite, which runs its tests one at a time, so that no other request holds the voice.
extension ServerIntegrationTests {
    @Test("cancelling runServers mid-request: the request completes, runServers returns, the port closes")
    func drain() async throws {
        let services = try await S.servers().services  // models already loaded
        var logger = Logger(label: "hark.servers.shutdown-test")
        logger.logLevel = .warning
        let configuration = ServerConfiguration(wyoming: "tcp://127.0.0.1:0", http: "127.0.0.1:0", drainSeconds: 60)
        let (stream, continuation) = AsyncStream.makeStream(of: BoundAddresses.self)
        let server = Task {
            try await runServers(configuration: configuration, services: services, logger: logger) { bound in
                continuation.yield(bound)
                continuation.finish()
            }
        }
        var iterator = stream.makeAsyncIterator()
        let bound = try #require(await iterator.next())
        let url = "http://127.0.0.1:\(try #require(bound.http).port)/v1/audio/speech"
        let text = "The server stops taking new work. This sentence is still spoken in full."
        let body = #"{"model": "tts-1", "voice": "alloy", "input": "\#(text)", "response_format": "wav"}"#
        let out = S.temporaryFile(".wav")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let request = Task {
            try await S.runOffPool("/usr/bin/curl", ["-s", "-o", out, "-w", "%{http_code}", "-d", body, url])
        }

        // Cancel once the request holds the voice, i.e. is in flight.
        let voice = try await services.voice(named: nil)
        let deadline = ContinuousClock.now + .seconds(60)
        while voice.queue.load == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(voice.queue.load > 0, "the request never started")
        server.cancel()

        let result = try await request.value
        #expect(result.output == "200", "the in-flight request was cut off: \(result.output) \(result.error)")
        try await server.value  // returns once drained
        let heard = try await S.hear(out, services: services)
        // The whole reply arrived: every word is there (tiny.en may mishear one, e.g. "in full" as "and full").
        let (said, expected) = (S.words(heard), S.words(text))
        #expect(said.count == expected.count && zip(said, expected).filter { $0 != $1 }.count <= 1, "heard: \(heard)")
        let after = try S.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(after.output == "000", "the server still accepts connections")
    }
}
