// OpenAIChatClient: a ChatBackend over any OpenAI-compatible server (llama.cpp's llama-server, Ollama, vLLM…):
// POST /v1/chat/completions with "stream": true, read as server-sent events.

import AsyncHTTPClient
import Foundation
import LanguageModel
import Logging
import NIOCore

/// Streams chat replies from an OpenAI-compatible `/v1/chat/completions` endpoint.
public struct OpenAIChatClient: ChatBackend {
    /// The full endpoint URL.
    public let endpoint: String
    /// The model name sent with each request.
    public let model: String
    /// How long one whole reply may take.
    public let timeout: Duration
    /// Longest reply, in tokens.
    public let maxTokens: Int
    /// Sent as a bearer token when set.
    public let apiKey: String?
    private let logger = Logger(label: "hark.chat")

    /// The chat calls' HTTP client: `HTTPClient.shared`'s settings, except that a refused connection fails the
    /// request at once. The shared client retries connecting until the request's deadline
    /// (swift-server/async-http-client#743), so a stopped server meant half a minute of silence before the apology.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A client for the server at `url` (a base URL such as `http://127.0.0.1:8080`, or the full endpoint).
    public init(url: String, model: String, timeout: Duration, maxTokens: Int = 200, apiKey: String? = nil) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/chat/completions") {
            endpoint = base
        } else if base.hasSuffix("/v1") {
            endpoint = base + "/chat/completions"
        } else {
            endpoint = base + "/v1/chat/completions"
        }
        self.model = model
        self.timeout = timeout
        self.maxTokens = maxTokens
        self.apiKey = apiKey
    }

    public func reply(to messages: [ChatMessage]) -> AsyncThrowingStream<String, any Error> {
        let timedOut = "the language model at \(endpoint) did not answer within \(timeout)"
        return timedChatReply(
            timeout: timeout, subject: endpoint, timedOut: timedOut,
            failure: { [endpoint] in "cannot reach the language model at \(endpoint): \($0)" },
            produce: { [endpoint] continuation in
                do {
                    try await self.stream(messages, into: continuation)
                } catch let error as HTTPClientError where error == .deadlineExceeded {
                    // The request's own deadline (the timeout plus a second) is the same timeout: on a loaded
                    // machine it can fire before the timer task gets a thread to run on.
                    throw PipelineError(.chatTimedOut, timedOut, subject: endpoint)
                }
            })
    }

    /// Checks that the server answers (`GET …/v1/models`), for `harkd --check`.
    /// - Throws: `PipelineError` `.chatFailed` saying what went wrong.
    public func checkReachable(timeout: Duration = .seconds(3)) async throws(PipelineError) {
        var url = endpoint
        if url.hasSuffix("/chat/completions") { url.removeLast("/chat/completions".count) }
        url += "/models"
        do {
            let response = try await Self.http.execute(
                HTTPClientRequest(url: url), timeout: .milliseconds(Int64(timeout.components.seconds * 1000)),
                logger: logger)
            guard response.status.code == 200 else {
                throw PipelineError(.chatFailed, "\(url) answered \(response.status.code)", subject: url)
            }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(.chatFailed, "cannot reach \(url): \(error)", subject: url)
        }
    }

    private struct Body: Encodable {
        var model: String
        var messages: [ChatMessage]
        var stream = true
        var maxTokens: Int

        enum CodingKeys: String, CodingKey {
            case model, messages, stream
            case maxTokens = "max_tokens"
        }
    }

    /// Sends the request and yields the content of each chunk until `[DONE]` or the end of the body.
    private func stream(
        _ messages: [ChatMessage], into continuation: AsyncThrowingStream<String, any Error>.Continuation
    ) async throws {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let body = try JSONEncoder().encode(Body(model: model, messages: messages, maxTokens: maxTokens))
        request.body = .bytes(ByteBuffer(bytes: body))
        let seconds = Int64((Double(timeout.components.seconds) + 1).rounded(.up))
        let response = try await Self.http.execute(request, timeout: .seconds(seconds), logger: logger)
        guard response.status.code == 200 else {
            var text = ""
            for try await buffer in response.body {
                text += String(buffer: buffer)
                if text.count > 500 { break }
            }
            throw PipelineError(
                .chatFailed,
                "the language model at \(endpoint) answered \(response.status.code): \(text.prefix(300))",
                subject: endpoint)
        }
        var parser = ServerSentEventParser()
        for try await buffer in response.body {
            for data in parser.feed(buffer.readableBytesView) {
                guard let content = try ChatCompletionChunk.content(of: data) else { return }
                if !content.isEmpty { continuation.yield(content) }
            }
        }
        if let data = parser.finish(), let content = try ChatCompletionChunk.content(of: data), !content.isEmpty {
            continuation.yield(content)
        }
    }
}
