import Compute
import Tensors

/// Everything that can go wrong loading a Piper voice or synthesizing with it. `description` is the message for
/// people: it names the file and says what is wrong with it.
public struct PiperError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// The `.onnx.json` config is missing or unreadable.
        case unreadableConfig
        /// The config is not valid JSON of the shape Piper writes.
        case invalidConfig
        /// The `.onnx` file could not be read as ONNX (missing, truncated, corrupted).
        case unreadableModel
        /// The file is ONNX but not a Piper VITS voice (a weight the voice needs is missing or misshapen).
        case notAPiperVoice
        /// A Piper voice this code does not run (e.g. weights computed inside the graph).
        case unsupportedVoice
        /// The synthesis input is unusable: no ids, an id outside the vocabulary, an unknown speaker, a bad range.
        case invalidInput
        /// A backend op failed.
        case computeFailed
    }

    /// What went wrong.
    public var code: Code
    /// The message for people.
    public var message: String
    /// The file concerned, when there is one.
    public var path: String?
    /// The error underneath, when there is one.
    public var cause: (any Error & Sendable)?

    /// An error with its code, message and, when known, the file and the error underneath.
    public init(_ code: Code, _ message: String, path: String? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

extension PiperError {
    static func notAVoice(_ path: String, _ reason: String) -> PiperError {
        PiperError(.notAPiperVoice, "not a Piper VITS voice: \(reason)", path: path)
    }

    static func input(_ message: String) -> PiperError { PiperError(.invalidInput, message) }

    static func compute(_ error: ComputeError) -> PiperError {
        PiperError(.computeFailed, "compute failed: \(error.message)", cause: error)
    }
}

/// Runs `body`, turning a backend failure into a `PiperError`.
@inline(__always)
func computing<R>(_ body: () throws(ComputeError) -> R) throws(PiperError) -> R {
    do {
        return try body()
    } catch {
        throw .compute(error)
    }
}
