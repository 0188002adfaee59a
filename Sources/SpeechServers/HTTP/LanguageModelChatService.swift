// POST /v1/chat/completions on Hark's own LLM runtime, in OpenAI's format (research/assistant.md §4.3; openai-python
// types/chat/completion_create_params.py, chat_completion.py and chat_completion_chunk.py): a `chat.completion`, or
// with `"stream": true` `chat.completion.chunk` events (the role, the text pieces, the finish reason) and
// `data: [DONE]`.
//
// The model is one resource. One LanguageModelSession — one KV cache, one reply at a time — serves every HTTP request
// in turn, behind a bounded ModelQueue (full: 503 busy); a reply uses every core for each token, so replies side by
// side would only slow each other down. The weights are those the assistant already loaded (LoadedLanguageModel):
// serving HTTP costs this session's KV cache, paid only for the positions it fills, not a second copy of the model.
// The session keeps the longest common prompt prefix, so a client that continues a conversation is not made to wait
// for its history again.

import Foundation
import LanguageModel

/// Serves OpenAI chat completions from one `LanguageModelSession`, one request at a time.
public struct LanguageModelChatService: ChatService {
    public let session: LanguageModelSession
    /// The model id clients see (`GET /v1/models`, the responses' `model`).
    public let name: String
    /// Requests wait here for the session.
    public let queue: ModelQueue

    public init(session: LanguageModelSession, name: String, queue: ModelQueue) {
        self.session = session
        self.name = name
        self.queue = queue
    }

    public var modelIDs: [String] { [name] }

    public func complete(requestBody: [UInt8]) async throws -> ChatResponse {
        let request = try ChatCompletionRequest(json: requestBody)
        let slot = try await queue.acquire()
        let reply = ReplyReader(session.reply(to: request.messages, options: request.options), slot: slot)
        // The first pull evaluates the prompt, so a prompt the context cannot hold is answered with a 400 before the
        // response starts.
        let first = try await reply.next()
        let header = ChunkHeader(
            id: "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
            created: Int(Date().timeIntervalSince1970), model: name)
        guard request.stream else {
            var text = ""
            var event = first
            while let current = event {
                switch current {
                case .text(let piece): text += piece
                case .finished(let reason, let prompt, let completion):
                    reply.close()
                    return .json(header.completion(text: text, finish: reason, prompt: prompt, completion: completion))
                }
                event = try await reply.next()
            }
            throw ServerError.internalFailure("the reply ended without a finish reason")
        }
        let events = EventWriter(reply: reply, first: first, header: header, includeUsage: request.includeUsage)
        return .eventStream(AsyncThrowingStream<[UInt8], any Error>(unfolding: { await events.next() }))
    }
}

// MARK: - The request

/// The fields of a chat completion request that Hark honours; the others are accepted and ignored.
struct ChatCompletionRequest: Decodable {
    var messages: [ChatMessage]
    var options: GenerationOptions
    var stream: Bool
    var includeUsage: Bool

    /// Parses and checks a request body.
    /// - Throws: `ServerError.badRequest` saying what is wrong.
    init(json: [UInt8]) throws(ServerError) {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(json))
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError.from(error)
        }
    }

    private enum Keys: String, CodingKey {
        case messages, stream, temperature, seed, stop, n
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case streamOptions = "stream_options"
    }

    private struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    /// A message as sent: `content` is a string, or a list of parts of which the text ones count.
    private struct WireMessage: Decodable {
        struct Part: Decodable {
            var type: String
            var text: String?
        }
        var role: String
        var content: String

        enum CodingKeys: String, CodingKey { case role, content }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            if let text = try? c.decodeIfPresent(String.self, forKey: .content) {
                content = text
            } else if let parts = try? c.decodeIfPresent([Part].self, forKey: .content) {
                content = parts.compactMap { $0.type == "text" ? $0.text : nil }.joined()
            } else if try c.decodeNil(forKey: .content) {
                content = ""
            } else {
                throw ServerError.badRequest("a message's content must be a string or a list of text parts")
            }
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let wire = try c.decode([WireMessage].self, forKey: .messages)
        guard !wire.isEmpty else { throw ServerError.badRequest("messages must not be empty") }
        messages = []
        for (i, m) in wire.enumerated() {
            // "developer" is OpenAI's newer name for the system role.
            guard let role = ChatMessage.Role(rawValue: m.role == "developer" ? "system" : m.role) else {
                throw ServerError.badRequest(
                    "messages[\(i)].role '\(m.role)' is not supported (system, developer, user, assistant)")
            }
            messages.append(ChatMessage(role, m.content))
        }
        if let n = try c.decodeIfPresent(Int.self, forKey: .n), n != 1 {
            throw ServerError.badRequest("n must be 1: this server generates one choice")
        }
        var sampling = SamplingOptions()
        if let temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) {
            guard (0...2).contains(temperature) else { throw ServerError.badRequest("temperature must be 0 to 2") }
            sampling.temperature = temperature
        }
        if let topP = try c.decodeIfPresent(Float.self, forKey: .topP) {
            guard (0...1).contains(topP) else { throw ServerError.badRequest("top_p must be 0 to 1") }
            sampling.topP = topP
        }
        if let seed = try c.decodeIfPresent(Int64.self, forKey: .seed) { sampling.seed = UInt64(bitPattern: seed) }
        // No budget given: the reply may fill the context (where the session stops it with `length`).
        let budget =
            try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
            ?? c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? Int.max
        guard budget >= 1 else { throw ServerError.badRequest("max_tokens must be at least 1") }
        var stop: [String] = []
        if let one = try? c.decodeIfPresent(String.self, forKey: .stop) {
            stop = [one]
        } else if let many = try c.decodeIfPresent([String].self, forKey: .stop) {
            stop = many
        }
        options = GenerationOptions(maxTokens: budget, stopStrings: stop, sampling: sampling)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
    }
}

// MARK: - The reply

/// Pulls a reply's events while holding the model's slot; gives the slot back when the reply ends, fails, or is
/// dropped (the slot releases itself when it goes away).
final class ReplyReader: @unchecked Sendable {
    // Unchecked: the iterator is only touched by `next`, which the single consumer calls one pull at a time.
    private var iterator: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator
    private let slot: ModelSlot

    init(_ stream: AsyncThrowingStream<GenerationEvent, any Error>, slot: ModelSlot) {
        iterator = stream.makeAsyncIterator()
        self.slot = slot
    }

    /// Gives the model to the next request (the reply is over).
    func close() { slot.release() }

    /// The next event; nil after the last.
    /// - Throws: `ServerError`: `.badRequest` for a prompt the model cannot take, `.internalFailure` otherwise.
    func next() async throws(ServerError) -> GenerationEvent? {
        do {
            let event = try await iterator.next()
            if event == nil { slot.release() }
            return event
        } catch {
            slot.release()
            switch error {
            case LanguageModelError.promptTooLong, LanguageModelError.emptyPrompt:
                throw ServerError.badRequest("\(error)")
            case is CancellationError:
                throw ServerError.internalFailure("the request was cancelled")
            default:
                throw ServerError.internalFailure("the language model failed: \(error)")
            }
        }
    }
}

/// What every response of one completion repeats.
struct ChunkHeader: Sendable {
    let id: String
    let created: Int
    let model: String

    private func object(_ type: String, choices: [JSONValue], usage: JSONValue? = nil) -> [UInt8] {
        var fields: [String: JSONValue] = [
            "id": .string(id), "object": .string(type), "created": .int(created), "model": .string(model),
            "choices": .array(choices),
        ]
        if let usage { fields["usage"] = usage }
        // Encoding a JSONValue cannot fail.
        return Array((try? JSONValue.makeEncoder().encode(JSONValue.object(fields))) ?? Data())
    }

    private static func usage(prompt: Int, completion: Int) -> JSONValue {
        .object([
            "prompt_tokens": .int(prompt), "completion_tokens": .int(completion),
            "total_tokens": .int(prompt + completion),
        ])
    }

    /// The whole `chat.completion`.
    func completion(text: String, finish: FinishReason, prompt: Int, completion: Int) -> [UInt8] {
        let message: JSONValue = .object(["role": .string("assistant"), "content": .string(text)])
        let choice: JSONValue = .object([
            "index": .int(0), "message": message, "logprobs": .null, "finish_reason": .string(finish.rawValue),
        ])
        return object("chat.completion", choices: [choice], usage: Self.usage(prompt: prompt, completion: completion))
    }

    /// One `chat.completion.chunk` as a server-sent event.
    func chunk(delta: [String: JSONValue], finish: FinishReason? = nil) -> [UInt8] {
        let choice: JSONValue = .object([
            "index": .int(0), "delta": .object(delta), "logprobs": .null,
            "finish_reason": finish.map { .string($0.rawValue) } ?? .null,
        ])
        return Self.event(object("chat.completion.chunk", choices: [choice]))
    }

    /// The usage chunk `stream_options.include_usage` asks for: no choices, the token counts.
    func usageChunk(prompt: Int, completion: Int) -> [UInt8] {
        Self.event(
            object("chat.completion.chunk", choices: [], usage: Self.usage(prompt: prompt, completion: completion)))
    }

    static func event(_ json: [UInt8]) -> [UInt8] { Array("data: ".utf8) + json + Array("\n\n".utf8) }
    static let done = Array("data: [DONE]\n\n".utf8)
}

/// Turns a reply into server-sent events, one per pull: the role, each text piece, the finish reason, (the usage,)
/// `[DONE]`. A failure after the response has started can only be told in the stream: an `error` event, then the
/// end.
final class EventWriter: @unchecked Sendable {
    // Unchecked: the HTTP response writer pulls one event at a time.
    private let reply: ReplyReader
    private let header: ChunkHeader
    private let includeUsage: Bool
    private var pending: [[UInt8]]
    private var first: GenerationEvent?
    private var ended = false

    init(reply: ReplyReader, first: GenerationEvent?, header: ChunkHeader, includeUsage: Bool) {
        self.reply = reply
        self.first = first
        self.header = header
        self.includeUsage = includeUsage
        pending = [header.chunk(delta: ["role": .string("assistant"), "content": .string("")])]
    }

    func next() async -> [UInt8]? {
        if !pending.isEmpty { return pending.removeFirst() }
        if ended { return nil }
        let event: GenerationEvent?
        do {
            if let first {
                event = first
                self.first = nil
            } else {
                event = try await reply.next()
            }
        } catch {
            ended = true
            return ChunkHeader.event(error.jsonBody)
        }
        switch event {
        case .text(let piece):
            return header.chunk(delta: ["content": .string(piece)])
        case .finished(let reason, let prompt, let completion):
            ended = true
            reply.close()
            if includeUsage { pending.append(header.usageChunk(prompt: prompt, completion: completion)) }
            pending.append(ChunkHeader.done)
            return header.chunk(delta: [:], finish: reason)
        case nil:
            ended = true
            return ChunkHeader.done
        }
    }
}
