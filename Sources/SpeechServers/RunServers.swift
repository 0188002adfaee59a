// runServers: harkd's network faces in one call (issue 7): the Wyoming and HTTP servers as services of one
// swift-service-lifecycle ServiceGroup (Sources/ServiceLifecycle/ServiceGroup.swift), so that cancelling the caller
// becomes a graceful shutdown: listeners close, in-flight requests finish (for up to `drainSeconds`), then return.

import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Where the servers listen once bound (the real ports when 0 was configured).
public struct BoundAddresses: Sendable, Equatable {
    public var wyoming: ListenAddress?
    public var http: ListenAddress?
}

/// Runs the Wyoming and HTTP servers configured in `configuration` on `services` until the calling task is
/// cancelled; then stops accepting, drains the requests in flight (at most `configuration.drainSeconds`) and
/// returns. Inside a ServiceGroup, its graceful shutdown does the same.
///
/// - Parameters:
///   - chat: mounts `POST /v1/chat/completions` when given.
///   - onReady: called once every enabled server listens, with the bound addresses.
/// - Throws: `ServerError.badRequest` for an invalid configuration; the bind error when an address is taken.
public func runServers(
    configuration: ServerConfiguration, services: SpeechServices, chat: (any ChatService)? = nil,
    logger: Logger = Logger(label: "hark.servers"),
    onReady: @escaping @Sendable (BoundAddresses) async -> Void = { _ in }
) async throws {
    try configuration.validate()
    let wyomingAddress = try configuration.wyomingAddress()
    let httpAddress = try configuration.httpAddress()
    if let httpAddress, !httpAddress.isLoopback, configuration.apiKey == nil {
        logger.warning(
            "the HTTP API listens on \(httpAddress) without an API key: anyone who can reach it can use it (--api-key)")
    }
    if let wyomingAddress, !wyomingAddress.isLoopback {
        logger.warning("Wyoming listens on \(wyomingAddress); the protocol has no authentication")
    }
    guard wyomingAddress != nil || httpAddress != nil else {
        logger.notice("both servers are off")
        return
    }

    let ready = ReadyGate(expectWyoming: wyomingAddress != nil, expectHTTP: httpAddress != nil, onReady: onReady)
    var serviceList: [ServiceGroupConfiguration.ServiceConfiguration] = []
    if let wyomingAddress {
        let server = WyomingServer(
            address: wyomingAddress, services: services, limits: configuration.limits, logger: logger)
        serviceList.append(.init(service: WyomingService(server: server, ready: ready), serviceName: "wyoming"))
    }
    if let httpAddress {
        let routes = OpenAIRoutes(services: services, chat: chat, configuration: configuration, logger: logger)
        let app = Application(
            router: routes.router(),
            server: .http1(
                configuration: .init(idleTimeout: .seconds(Int64(configuration.limits.idleTimeoutSeconds)))),
            configuration: ApplicationConfiguration(
                address: .hostname(httpAddress.host, port: httpAddress.port), serverName: "Hark"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? httpAddress.port
                logger.info("HTTP server listening", metadata: ["address": "\(httpAddress.host):\(port)"])
                await ready.report(http: ListenAddress(host: httpAddress.host, port: port))
            },
            logger: logger)
        serviceList.append(.init(service: app, serviceName: "http"))
    }
    var groupConfiguration = ServiceGroupConfiguration(services: serviceList, logger: logger)
    groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.drainSeconds)
    groupConfiguration.maximumCancellationDuration = .seconds(5)
    let group = ServiceGroup(configuration: groupConfiguration)

    // Run the group outside the caller's task so that the caller's cancellation does not cancel the services
    // outright, but asks them to shut down gracefully.
    let running = Task { try await group.run() }
    try await withGracefulShutdownHandler {
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    } onGracefulShutdown: {
        Task { await group.triggerGracefulShutdown() }
    }
}

/// The Wyoming server as a service of the group.
struct WyomingService: Service, CustomStringConvertible {
    let server: WyomingServer
    let ready: ReadyGate

    func run() async throws {
        try await server.run { address in await ready.report(wyoming: address) }
    }

    var description: String { "WyomingServer(\(server.address))" }
}

/// Calls `onReady` once every expected server has reported its address.
final class ReadyGate: Sendable {
    private let state: Mutex<(addresses: BoundAddresses, done: Bool)>
    private let expectWyoming: Bool
    private let expectHTTP: Bool
    private let onReady: @Sendable (BoundAddresses) async -> Void

    init(expectWyoming: Bool, expectHTTP: Bool, onReady: @escaping @Sendable (BoundAddresses) async -> Void) {
        self.expectWyoming = expectWyoming
        self.expectHTTP = expectHTTP
        self.onReady = onReady
        state = Mutex((BoundAddresses(), false))
    }

    func report(wyoming: ListenAddress? = nil, http: ListenAddress? = nil) async {
        let complete = state.withLock { s -> BoundAddresses? in
            if let wyoming { s.addresses.wyoming = wyoming }
            if let http { s.addresses.http = http }
            let all = (!expectWyoming || s.addresses.wyoming != nil) && (!expectHTTP || s.addresses.http != nil)
            guard all, !s.done else { return nil }
            s.done = true
            return s.addresses
        }
        if let complete { await onReady(complete) }
    }
}
