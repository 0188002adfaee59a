// ServerSentEvents: the `text/event-stream` framing of OpenAI-style streaming responses, and the chunk JSON they
// carry (research/assistant.md §4.3).

import Foundation

/// Parses an event stream fed in arbitrary byte pieces into the `data` payloads of its events.
///
/// An event is its `data:` lines (joined by newlines) up to a blank line; comment lines (`:`) and other fields are
/// ignored; `data:` may be followed by a space or not; lines end in LF or CRLF.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []

    public init() {}

    /// Feeds bytes; returns the data payloads of the events they completed.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [String] where Bytes.Element == UInt8 {
        var events: [String] = []
        for byte in bytes {
            guard byte == UInt8(ascii: "\n") else {
                line.append(byte)
                continue
            }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if let event = take(String(decoding: line, as: UTF8.self)) { events.append(event) }
            line.removeAll(keepingCapacity: true)
        }
        return events
    }

    /// Ends the stream: an event not closed by a blank line still counts.
    public mutating func finish() -> String? {
        if !line.isEmpty {
            _ = take(String(decoding: line, as: UTF8.self))
            line = []
        }
        return take("")
    }

    private mutating func take(_ line: String) -> String? {
        if line.isEmpty {
            guard !data.isEmpty else { return nil }
            defer { data = [] }
            return data.joined(separator: "\n")
        }
        guard line.hasPrefix("data:") else { return nil }  // comments (":…"), event:, id:, retry:
        var value = line.dropFirst(5)
        if value.first == " " { value = value.dropFirst() }
        data.append(String(value))
        return nil
    }
}

/// One `chat.completion.chunk` of a streamed chat completion, reduced to what Hark reads.
public struct ChatCompletionChunk: Decodable, Sendable {
    public struct Choice: Decodable, Sendable {
        public struct Delta: Decodable, Sendable {
            public var content: String?
        }

        public var delta: Delta?
        public var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case delta
            case finishReason = "finish_reason"
        }
    }

    public struct ServerError: Decodable, Sendable {
        public var message: String?
    }

    public var choices: [Choice]?
    /// Some servers (llama-server, Ollama) report failures inside the stream.
    public var error: ServerError?

    /// The text of an event's data: nil for `[DONE]`, "" for chunks without content.
    /// - Throws: `PipelineError` `.chatFailed` when the data is not a chunk or reports an error.
    public static func content(of data: String) throws(PipelineError) -> String? {
        if data.trimmingCharacters(in: .whitespaces) == "[DONE]" { return nil }
        let chunk: ChatCompletionChunk
        do {
            chunk = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(data.utf8))
        } catch {
            throw PipelineError(.chatFailed, "the language model sent an unreadable chunk: \(data.prefix(200))")
        }
        if let error = chunk.error {
            throw PipelineError(.chatFailed, "the language model failed: \(error.message ?? "no message")")
        }
        return chunk.choices?.compactMap { $0.delta?.content }.joined() ?? ""
    }
}
