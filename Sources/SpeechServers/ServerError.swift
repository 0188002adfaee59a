// What the servers answer a request they cannot serve. HTTP renders it as OpenAI's error object
// (https://platform.openai.com/docs/guides/error-codes, research/assistant.md §4); Wyoming as an `error` event
// with `text` and `code` (rhasspy/wyoming wyoming/error.py, research/assistant.md §1.2).

/// What a server tells a client that sent something it cannot serve.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request is malformed (bad JSON, missing field, bad audio); the message says what.
    case badRequest(String)
    /// The model's queue is full; try again after the given seconds.
    case busy(retryAfter: Int)
    /// The request lacks the API key the server was started with, or has another one.
    case unauthorized
    /// No such route, model or voice; the message says which.
    case notFound(String)
    /// The body, upload, text or audio is larger than the server takes; the message says the limit.
    case tooLarge(String)
    /// The request asks for something this server does not do (an audio format it cannot encode).
    case unsupported(String)
    /// A model failed while serving the request (its message), or a model could not be loaded.
    case internalFailure(String)

    public var description: String {
        switch self {
        case .badRequest(let m): "bad request: \(m)"
        case .busy(let s): "the server is busy; retry after \(s) s"
        case .unauthorized: "a valid API key is required (Authorization: Bearer KEY)"
        case .notFound(let m): "not found: \(m)"
        case .tooLarge(let m): "too large: \(m)"
        case .unsupported(let m): "not supported: \(m)"
        case .internalFailure(let m): "internal error: \(m)"
        }
    }

    /// The HTTP status code.
    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .busy: 503
        case .unauthorized: 401
        case .notFound: 404
        case .tooLarge: 413
        case .unsupported: 400
        case .internalFailure: 500
        }
    }

    /// OpenAI's `error.type`.
    public var errorType: String {
        switch self {
        case .badRequest, .tooLarge, .unsupported, .notFound: "invalid_request_error"
        case .unauthorized: "authentication_error"
        case .busy: "server_busy"
        case .internalFailure: "server_error"
        }
    }

    /// OpenAI's `error.code`, and the Wyoming `error` event's `code`.
    public var code: String {
        switch self {
        case .badRequest: "bad_request"
        case .busy: "busy"
        case .unauthorized: "invalid_api_key"
        case .notFound: "not_found"
        case .tooLarge: "too_large"
        case .unsupported: "unsupported"
        case .internalFailure: "internal_error"
        }
    }

    /// The message alone, without the kind in front.
    public var message: String {
        switch self {
        case .badRequest(let m), .notFound(let m), .tooLarge(let m), .unsupported(let m), .internalFailure(let m): m
        case .busy, .unauthorized: description
        }
    }
}
