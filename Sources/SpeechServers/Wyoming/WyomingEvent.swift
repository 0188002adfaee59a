// Wyoming events and their framing, after rhasspy/wyoming wyoming/event.py (`async_read_event`,
// `async_write_event`), as PyPI wyoming 1.10.2 writes them (research/assistant.md §1.1): a JSON header line
// `{"type", "data"?, "data_length"?, "payload_length"?, "version"?}\n`, then `data_length` bytes of JSON merged over
// the header's `data`, then `payload_length` bytes of payload.

import Foundation

/// One Wyoming event: a type, a data object and an optional binary payload.
public struct WyomingEvent: Sendable, Equatable, CustomStringConvertible {
    /// The version written in our headers: the wyoming release whose events these are (readers ignore it).
    public static let protocolVersion = "1.10.2"

    public var type: String
    public var data: [String: JSONValue]
    public var payload: [UInt8]?

    public init(type: String, data: [String: JSONValue] = [:], payload: [UInt8]? = nil) {
        self.type = type
        self.data = data
        self.payload = payload
    }

    /// The event's bytes as the Python writer frames them: the data goes in the extra-data block (`data_length`),
    /// omitted when empty, and `payload_length` only with a payload.
    public func encoded() -> [UInt8] {
        let encoder = JSONValue.makeEncoder()
        let dataBytes = data.isEmpty ? [] : Array((try? encoder.encode(JSONValue.object(data))) ?? Data("{}".utf8))
        var header: [String: JSONValue] = ["type": .string(type), "version": .string(Self.protocolVersion)]
        if !dataBytes.isEmpty { header["data_length"] = .int(dataBytes.count) }
        if let payload { header["payload_length"] = .int(payload.count) }
        var bytes = Array((try? encoder.encode(JSONValue.object(header))) ?? Data())
        bytes.append(0x0A)
        bytes += dataBytes
        if let payload { bytes += payload }
        return bytes
    }

    public var description: String {
        "\(type) \(JSONValue.object(data))" + (payload.map { " + \($0.count) bytes" } ?? "")
    }
}

/// Why a byte stream is not a Wyoming event stream. The server answers each with an `error` event and closes.
public enum WyomingProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No newline within the header limit.
    case headerTooLong(limit: Int)
    /// The header line is not a JSON object (the reason says why).
    case headerNotJSON(String)
    /// The header has no `type` string.
    case missingType
    /// A length field is not a non-negative integer.
    case badLength(String)
    /// The extra data or payload announced is larger than the limit.
    case tooLarge(field: String, length: Int, limit: Int)
    /// The extra-data block is not a JSON object.
    case dataNotJSON(String)
    /// The stream ended inside an event.
    case truncated

    public var description: String {
        switch self {
        case .headerTooLong(let limit): "the header line is longer than \(limit) bytes"
        case .headerNotJSON(let why): "the header line is not a JSON object: \(why)"
        case .missingType: "the header has no \"type\" string"
        case .badLength(let field): "\"\(field)\" must be a non-negative integer"
        case .tooLarge(let field, let length, let limit): "\"\(field)\" is \(length) bytes; the limit is \(limit)"
        case .dataNotJSON(let why): "the data block is not a JSON object: \(why)"
        case .truncated: "the stream ended inside an event"
        }
    }
}

/// Cuts a byte stream into Wyoming events. A pure value: feed it bytes as they arrive (`append`), take events out
/// (`next`) until it returns nil, and at the end of the stream call `finish` to learn whether an event was cut off.
///
/// Memory is bounded: a header longer than `maxHeaderBytes` and a data block or payload announced larger than
/// `maxPayloadBytes` are errors as soon as they are seen, before anything is buffered for them.
public struct WyomingParser: Sendable {
    public let maxHeaderBytes: Int
    public let maxPayloadBytes: Int

    /// Bytes received and not yet consumed start at `start`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// The header of the event being read, once its line is complete.
    private var pending: (type: String, data: [String: JSONValue], dataLength: Int, payloadLength: Int)?

    public init(maxHeaderBytes: Int = 64 << 10, maxPayloadBytes: Int = 16 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes buffered and not yet returned as events.
    public var bufferedCount: Int { buffer.count - start }

    /// Adds bytes received.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        // Drop consumed bytes once they are most of the buffer, so appending stays amortised O(n).
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event, nil when more bytes are needed.
    /// - Throws: `WyomingProtocolError`; after an error the parser is spent (the connection is closed).
    public mutating func next() throws(WyomingProtocolError) -> WyomingEvent? {
        if pending == nil {
            guard let newline = buffer[start...].firstIndex(of: 0x0A) else {
                if bufferedCount > maxHeaderBytes { throw .headerTooLong(limit: maxHeaderBytes) }
                return nil
            }
            guard newline - start <= maxHeaderBytes else { throw .headerTooLong(limit: maxHeaderBytes) }
            let line = buffer[start..<newline]
            pending = try parseHeader(line)
            start = newline + 1
        }
        guard let header = pending else { return nil }
        guard bufferedCount >= header.dataLength + header.payloadLength else { return nil }
        var data = header.data
        if header.dataLength > 0 {
            let block = buffer[start..<(start + header.dataLength)]
            let extra: JSONValue
            do {
                extra = try JSONDecoder().decode(JSONValue.self, from: Data(block))
            } catch {
                throw .dataNotJSON(Self.reason(error))
            }
            guard let object = extra.object else { throw .dataNotJSON("it is not an object") }
            // Extra data is merged on top of the header's data, as event.py does.
            data.merge(object) { _, new in new }
            start += header.dataLength
        }
        var payload: [UInt8]?
        if header.payloadLength > 0 {
            payload = Array(buffer[start..<(start + header.payloadLength)])
            start += header.payloadLength
        }
        pending = nil
        return WyomingEvent(type: header.type, data: data, payload: payload)
    }

    /// Ends the stream.
    /// - Throws: `.truncated` when bytes of an unfinished event are left (whitespace between events is allowed).
    public func finish() throws(WyomingProtocolError) {
        if pending != nil { throw .truncated }
        if buffer[start...].contains(where: { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 && $0 != 0x09 }) {
            throw .truncated
        }
    }

    private func parseHeader(_ line: ArraySlice<UInt8>) throws(WyomingProtocolError) -> (
        type: String, data: [String: JSONValue], dataLength: Int, payloadLength: Int
    ) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(line))
        } catch {
            throw .headerNotJSON(Self.reason(error))
        }
        guard let header = value.object else { throw .headerNotJSON("it is not an object") }
        guard let type = header["type"]?.string, !type.isEmpty else { throw .missingType }
        var data: [String: JSONValue] = [:]
        switch header["data"] {
        case nil, .null?: break
        case .object(let object)?: data = object
        default: throw .headerNotJSON("\"data\" is not an object")
        }
        let dataLength = try length("data_length", header["data_length"])
        let payloadLength = try length("payload_length", header["payload_length"])
        return (type, data, dataLength, payloadLength)
    }

    /// A length field: missing or null is 0, as the Python reader takes it.
    private func length(_ field: String, _ value: JSONValue?) throws(WyomingProtocolError) -> Int {
        guard let value, value != .null else { return 0 }
        guard let n = value.int, n >= 0 else { throw .badLength(field) }
        guard n <= maxPayloadBytes else { throw .tooLarge(field: field, length: n, limit: maxPayloadBytes) }
        return n
    }

    private static func reason(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}
