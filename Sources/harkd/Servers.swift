// harkd's network faces (issue 7): the Wyoming server and the OpenAI-compatible HTTP API (SpeechServers), serving
// the models the voice loop loaded, and the run of the faces side by side in one task group: the first face to end
// (the voice loop after --exit-after) or fail, or SIGINT/SIGTERM, stops the others; the servers then drain the
// requests in flight. A failure names its face.

import Dispatch
import Foundation
import Glibc
import Logging
import ModelStore
import SpeechPipeline
import SpeechServers

extension Harkd {
    /// The servers' settings from harkd's; nil when both are off.
    /// - Throws: `PipelineError` `.invalidConfiguration` naming a malformed address.
    static func serverConfiguration(_ settings: PipelineConfiguration) throws(PipelineError) -> ServerConfiguration? {
        let s = settings.servers
        let configuration = ServerConfiguration(wyoming: s.wyoming, http: s.http, apiKey: s.apiKey)
        do {
            try configuration.validate()
        } catch {
            let message: String
            switch error {
            case .badRequest(let text): message = text
            default: message = error.description
            }
            throw PipelineError(.invalidConfiguration, "servers: \(message)")
        }
        return s.wyoming == "off" && s.http == "off" ? nil : configuration
    }

    /// The servers' models: the voice and the Whisper model the voice loop loaded (not loaded twice), and every other
    /// installed voice, loaded on first request.
    static func speechServices(_ models: PipelineModels, configuration: ServerConfiguration, logger: Logger) throws
        -> SpeechServices
    {
        let origin = models.origin
        let voices = (try? ModelStore()).map { SpeechServices.installedVoices(in: $0, logger: logger) } ?? []
        return SpeechServices(
            transcriber: models.transcription.transcriber, sttName: origin.sttName, voices: voices,
            defaultVoice: try VoiceDescription(name: origin.voiceName, modelPath: origin.voicePath),
            defaultSynthesizer: models.synthesizer, engine: origin.engine,
            promptTokenizer: SpeechServices.promptTokenizer(sttDirectory: origin.sttDirectory, logger: logger),
            queueDepth: configuration.queueDepth, retryAfter: configuration.retryAfterSeconds, logger: logger)
    }

    /// Runs the voice loop (when given) and the servers (when given) until one ends or fails or a signal comes;
    /// then stops the others and waits for them: the turn in progress is cut, the servers finish the requests in
    /// flight (at most `drainSeconds`).
    /// - Parameter chat: serves `POST /v1/chat/completions` when given.
    /// - Throws: `FaceFailure` naming the face that failed first.
    static func runFaces(
        pipeline: (SpeechPipeline, inputSamples: Int?)?, servers: (ServerConfiguration, SpeechServices)?,
        chat: (any ChatService)? = nil, signals: ShutdownSignals, logger: Logger
    ) async throws {
        defer { signals.stop() }
        let received = signals.received

        try await withThrowingTaskGroup(of: String?.self) { group in
            if case (let loop, let inputSamples)? = pipeline {
                group.addTask {
                    try await face("voice loop") { try await loop.run(inputSamples: inputSamples) }
                    return "the voice loop reached the end of its input"
                }
            }
            if case (let configuration, let services)? = servers {
                group.addTask {
                    try await face("servers") {
                        try await runServers(
                            configuration: configuration, services: services, chat: chat, logger: logger
                        ) { logger.notice("listening: \(describe($0))") }
                    }
                    return Task.isCancelled ? nil : "the servers stopped"
                }
            }
            group.addTask {
                for await number in received { return "signal \(number)" }
                return nil  // cancelled: another face ended first
            }

            var failure: (any Error)?
            do {
                if let reason = try await group.next() ?? nil { logger.notice("shutting down: \(reason)") }
            } catch {
                failure = error
            }
            await pipeline?.0.shutdown()
            group.cancelAll()
            while true {
                do {
                    guard try await group.next() != nil else { break }
                } catch {
                    if failure == nil { failure = error }
                }
            }
            if let failure { throw failure }
        }
    }

    /// Runs one face; its error, but for cancellation (the way faces are asked to stop), is tagged with its name.
    private static func face(_ name: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError {
        } catch {
            throw FaceFailure(face: name, error: error)
        }
    }

    /// "Wyoming tcp://127.0.0.1:10500, HTTP http://127.0.0.1:8080": what the servers listen on (the real ports when
    /// 0 was asked for).
    static func describe(_ bound: BoundAddresses) -> String {
        var parts: [String] = []
        if let wyoming = bound.wyoming { parts.append("Wyoming tcp://\(wyoming)") }
        if let http = bound.http { parts.append("HTTP http://\(http)") }
        return parts.joined(separator: ", ")
    }

    /// `--check`'s lines for the servers: each address, and whether its port is free now.
    static func checkServers(_ configuration: ServerConfiguration?) -> [(ok: Bool, line: String)] {
        guard let configuration else { return [(true, "both servers are off")] }
        let addresses: [(String, ListenAddress?)] = [
            ("Wyoming", try? configuration.wyomingAddress()), ("HTTP API", try? configuration.httpAddress()),
        ]
        return addresses.map { name, address in
            guard let address else { return (true, "\(name) off") }
            switch canBind(address) {
            case true?: return (true, "\(name) on \(address) (free)")
            case false?: return (false, "\(name) on \(address): the address is in use or cannot be bound here")
            case nil: return (false, "\(name) on \(address): the host does not resolve")
            }
        }
    }

    /// Whether a listening socket could be bound to `address` now; nil when its host does not resolve.
    private static func canBind(_ address: ListenAddress) -> Bool? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &found) == 0, let info = found else {
            return nil
        }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var on: Int32 = 1
        // As the servers bind: with SO_REUSEADDR, so that connections in TIME_WAIT do not count as taken.
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        return bind(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
    }
}

/// A face of harkd that failed, by name.
struct FaceFailure: Error, CustomStringConvertible {
    let face: String
    let error: any Error
    var description: String { "\(face): \(error)" }
}

/// SIGINT and SIGTERM as a stream, caught from harkd's start: one that comes while the models load ends the daemon
/// as soon as they are loaded. (Caught only once the faces ran, one sent during loading to a harkd that inherited
/// SIGINT ignored, as a script's background job does, was lost and the daemon ran on.)
final class ShutdownSignals {
    let received: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let sources: [any DispatchSourceSignal]

    init() {
        (received, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        let continuation = continuation
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// Stops catching (the stream ends).
    func stop() {
        for source in sources { source.cancel() }
        continuation.finish()
    }
}
