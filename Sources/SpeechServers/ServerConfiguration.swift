// Settings of harkd's network faces (issue 7): the Wyoming URI (tcp://host:port as in rhasspy/wyoming's
// server.py, research/assistant.md §1.5), the HTTP host:port, the API key, the queue depth and the limits.

/// Where a server listens.
public struct ListenAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A host name or IP address.
    public var host: String
    /// 0 asks the system for a free port (tests).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `tcp://host:port` (Wyoming's URI form); nil for anything else.
    public init?(parsing text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("tcp://") { rest = rest.dropFirst(6) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = rest[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        self.host = String(host)
        self.port = port
    }

    /// Whether only this machine can reach the address (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Limits that keep one client from taking the memory or the models from the others.
public struct ServerLimits: Codable, Sendable, Equatable {
    /// Largest HTTP request body (a transcription upload or a speech request), bytes. OpenAI's own limit is 25 MB.
    public var maxBodyBytes: Int
    /// Largest Wyoming payload or extra-data block one event may announce, bytes.
    public var maxWyomingPayloadBytes: Int
    /// Longest Wyoming header line, bytes.
    public var maxWyomingHeaderBytes: Int
    /// Longest audio one transcription takes, seconds (at any rate, before conversion).
    public var maxAudioSeconds: Double
    /// Longest text one speech request takes, characters (OpenAI's limit: 4096).
    public var maxSpeechCharacters: Int
    /// Seconds a connection may sit idle between requests (HTTP keep-alive, Wyoming between events).
    public var idleTimeoutSeconds: Int

    public init(
        maxBodyBytes: Int = 25 << 20, maxWyomingPayloadBytes: Int = 16 << 20, maxWyomingHeaderBytes: Int = 64 << 10,
        maxAudioSeconds: Double = 600, maxSpeechCharacters: Int = 4096, idleTimeoutSeconds: Int = 120
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxWyomingPayloadBytes = maxWyomingPayloadBytes
        self.maxWyomingHeaderBytes = maxWyomingHeaderBytes
        self.maxAudioSeconds = maxAudioSeconds
        self.maxSpeechCharacters = maxSpeechCharacters
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

/// How harkd's servers run: `--wyoming`, `--http`, `--api-key` and the config keys of the same names.
public struct ServerConfiguration: Codable, Sendable, Equatable {
    /// Wyoming URI (`tcp://HOST:PORT`) or `off`. The default port, 10500, is clear of the ports Wyoming's own
    /// services (10200 piper, 10300 whisper, 10400 openwakeword) and satellites (10700) use.
    public var wyoming: String
    /// HTTP `HOST:PORT` or `off`.
    public var http: String
    /// The Bearer token the HTTP API requires; nil: none.
    public var apiKey: String?
    /// Requests that may wait for a model while it serves another; one more is refused with `busy`.
    public var queueDepth: Int
    /// Seconds a refused client is told to wait (Retry-After).
    public var retryAfterSeconds: Int
    /// Seconds in-flight requests get to finish at shutdown before they are cancelled.
    public var drainSeconds: Int
    /// Size limits and timeouts.
    public var limits: ServerLimits

    public static let defaultWyoming = "tcp://127.0.0.1:10500"
    public static let defaultHTTP = "127.0.0.1:8080"

    public init(
        wyoming: String = ServerConfiguration.defaultWyoming, http: String = ServerConfiguration.defaultHTTP,
        apiKey: String? = nil, queueDepth: Int = 8, retryAfterSeconds: Int = 2, drainSeconds: Int = 30,
        limits: ServerLimits = ServerLimits()
    ) {
        self.wyoming = wyoming
        self.http = http
        self.apiKey = apiKey
        self.queueDepth = queueDepth
        self.retryAfterSeconds = retryAfterSeconds
        self.drainSeconds = drainSeconds
        self.limits = limits
    }

    enum CodingKeys: String, CodingKey {
        case wyoming, http, limits
        case apiKey = "api_key"
        case queueDepth = "queue_depth"
        case retryAfterSeconds = "retry_after_seconds"
        case drainSeconds = "drain_seconds"
    }

    /// Missing keys take the defaults, so a config file names only what it changes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfiguration()
        wyoming = try c.decodeIfPresent(String.self, forKey: .wyoming) ?? d.wyoming
        http = try c.decodeIfPresent(String.self, forKey: .http) ?? d.http
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey)
        queueDepth = try c.decodeIfPresent(Int.self, forKey: .queueDepth) ?? d.queueDepth
        retryAfterSeconds = try c.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? d.retryAfterSeconds
        drainSeconds = try c.decodeIfPresent(Int.self, forKey: .drainSeconds) ?? d.drainSeconds
        limits = try c.decodeIfPresent(ServerLimits.self, forKey: .limits) ?? d.limits
    }

    /// The Wyoming address, nil when `off`.
    /// - Throws: `ServerError.badRequest` naming the setting when it is neither `off` nor `tcp://HOST:PORT`.
    public func wyomingAddress() throws(ServerError) -> ListenAddress? {
        if wyoming == "off" { return nil }
        guard wyoming.hasPrefix("tcp://"), let address = ListenAddress(parsing: wyoming) else {
            throw .badRequest("--wyoming must be tcp://HOST:PORT or off, got '\(wyoming)'")
        }
        return address
    }

    /// The HTTP address, nil when `off`.
    /// - Throws: `ServerError.badRequest` naming the setting when it is neither `off` nor `HOST:PORT`.
    public func httpAddress() throws(ServerError) -> ListenAddress? {
        if http == "off" { return nil }
        guard let address = ListenAddress(parsing: http) else {
            throw .badRequest("--http must be HOST:PORT or off, got '\(http)'")
        }
        return address
    }

    /// Checks every setting; throws `ServerError.badRequest` naming the first one out of range.
    public func validate() throws(ServerError) {
        _ = try wyomingAddress()
        _ = try httpAddress()
        guard queueDepth >= 0 else { throw .badRequest("queue_depth must be 0 or more") }
        guard retryAfterSeconds >= 1 else { throw .badRequest("retry_after_seconds must be 1 or more") }
        guard drainSeconds >= 0 else { throw .badRequest("drain_seconds must be 0 or more") }
        let l = limits
        guard l.maxBodyBytes > 0, l.maxWyomingPayloadBytes > 0, l.maxWyomingHeaderBytes >= 256,
            l.maxAudioSeconds > 0, l.maxSpeechCharacters > 0, l.idleTimeoutSeconds > 0
        else { throw .badRequest("limits must be positive (the Wyoming header limit at least 256 bytes)") }
        if let apiKey, apiKey.isEmpty { throw .badRequest("the API key must not be empty") }
    }
}
