// The Wyoming TCP server over SwiftNIO: ServerBootstrap + NIOAsyncChannel, one task per connection
// (apple/swift-nio Sources/NIOCore/AsyncChannel; the framing of rhasspy/wyoming wyoming/event.py, research/
// assistant.md §1). Bad input gets an `error` event (`text`, `code`, as wyoming/error.py) and a closed connection;
// the listener and every other connection go on.

import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Serves Wyoming clients (Home Assistant) on one TCP address from the shared models.
public struct WyomingServer: Sendable {
    public let address: ListenAddress
    public let services: SpeechServices
    public let limits: ServerLimits
    public let logger: Logger

    public init(address: ListenAddress, services: SpeechServices, limits: ServerLimits, logger: Logger) {
        self.address = address
        self.services = services
        self.limits = limits
        self.logger = logger
    }

    /// Listens until cancelled or, inside a ServiceGroup, until graceful shutdown: then it stops accepting, lets
    /// each connection finish the request it is serving, and returns once they are closed.
    /// - Parameter onBound: called with the bound address (its port, when 0 was asked for).
    public func run(onBound: @Sendable (ListenAddress) async -> Void = { _ in }) async throws {
        let limits = limits
        let registry = ConnectionRegistry()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that shuts down its sending side (a truncated stream) still gets its `error` event.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let activity = ConnectionActivity()
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(readTimeout: .seconds(Int64(limits.idleTimeoutSeconds))))
                    try channel.pipeline.syncOperations.addHandler(IdleCloser(activity: activity))
                    let async = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return (async, activity)
                }
            }
        let port = listener.channel.localAddress?.port ?? address.port
        logger.info("Wyoming server listening", metadata: ["address": "\(address.host):\(port)"])
        await onBound(ListenAddress(host: address.host, port: port))

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { inbound in
                    for try await (connection, activity) in inbound {
                        guard registry.add(connection.channel) else {
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await serve(connection, activity: activity)
                            registry.remove(connection.channel)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting; end each connection's input so that it finishes the request in hand and closes.
            listener.channel.close(promise: nil)
            registry.shutDown()
        }
        logger.info("Wyoming server stopped")
    }

    /// One connection: events in, replies out, until the client closes, errs or the server shuts down.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, activity: ConnectionActivity) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        var logger = logger
        logger[metadataKey: "peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var sink = ChannelSink(outbound: outbound)
                var parser = WyomingParser(
                    maxHeaderBytes: limits.maxWyomingHeaderBytes, maxPayloadBytes: limits.maxWyomingPayloadBytes)
                var session = WyomingSession(services: services, limits: limits, logger: logger)
                do {
                    for try await buffer in inbound {
                        parser.append(buffer.readableBytesView)
                        while let event = try parser.next() {
                            logger.trace("event", metadata: ["type": "\(event.type)"])
                            activity.setBusy(true)
                            defer { activity.setBusy(false) }
                            try await session.handle(event, &sink)
                        }
                    }
                    try parser.finish()
                } catch let error as WyomingProtocolError {
                    logger.notice("bad Wyoming input: \(error)")
                    try? await sink.send(Self.errorEvent(error.description, code: "protocol_error"))
                } catch let error as ServerError {
                    logger.info("Wyoming request refused: \(error)")
                    try? await sink.send(Self.errorEvent(error.message, code: error.code))
                }
            }
        } catch {
            // The client went away mid-reply, or the channel failed: nothing is left to tell it.
            logger.debug("Wyoming connection ended: \(error)")
        }
    }

    static func errorEvent(_ text: String, code: String) -> WyomingEvent {
        WyomingEvent(type: "error", data: ["text": .string(text), "code": .string(code)])
    }
}

/// Writes events to a connection.
struct ChannelSink: WyomingEventSink {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    mutating func send(_ event: WyomingEvent) async throws {
        try await outbound.write(ByteBuffer(bytes: event.encoded()))
    }
}

/// Whether a connection is serving a request: the idle timeout only closes connections that wait for input.
final class ConnectionActivity: Sendable {
    private let busy = Atomic(false)
    func setBusy(_ value: Bool) { busy.store(value, ordering: .relaxed) }
    var isBusy: Bool { busy.load(ordering: .relaxed) }
}

/// Closes a connection that has sent nothing for the idle timeout while no request of it was being served.
final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if !activity.isBusy { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The open connections, so that shutdown can end their input.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var isShuttingDown = false
    }
    private let state = Mutex(State())

    /// Registers a connection; false once shutdown has begun.
    func add(_ channel: any Channel) -> Bool {
        state.withLock { s in
            guard !s.isShuttingDown else { return false }
            s.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Ends the input of every connection: each finishes what it serves, sees the end of its input and closes.
    func shutDown() {
        let channels = state.withLock { s in
            s.isShuttingDown = true
            return Array(s.channels.values)
        }
        for channel in channels { channel.close(mode: .input, promise: nil) }
    }
}
