import Tensors

/// Why an op or a weight could not be handled.
public struct ComputeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The backend does not run this op or weight type (the dispatcher then uses the CPU).
        case unsupported
        /// Shapes or element types do not fit together.
        case shapeMismatch
        /// The backend's runtime failed (library missing, device error).
        case backendFailure
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func unsupported(_ op: Op, by backend: String) -> ComputeError {
        ComputeError(.unsupported, "\(backend) does not run \(op)")
    }

    public static func shape(_ message: String) -> ComputeError { ComputeError(.shapeMismatch, message) }

    public var description: String { message }
}
