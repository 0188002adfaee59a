/// What a server tells a client that sent something it cannot serve.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request is malformed (bad JSON, missing field, bad audio); the message says what.
    case badRequest(String)
    /// The model's queue is full; try again after the given seconds.
    case busy(retryAfter: Int)

    public var description: String {
        switch self {
        case .badRequest(let m): "bad request: \(m)"
        case .busy(let s): "the server is busy; retry after \(s) s"
        }
    }
}
