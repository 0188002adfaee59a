// PipelineError: the one error type of the SpeechPipeline target.

/// What went wrong in the assistant, as a value: a code to react to, a message for people, and what it concerns.
public struct PipelineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// The configuration (file or overrides) is malformed or out of range.
        case invalidConfiguration
        /// The intents file is malformed (bad JSON, bad pattern, unknown intent).
        case invalidIntents
        /// A model could not be found or loaded.
        case modelUnavailable
        /// A sound device could not be opened or failed.
        case audioDevice
        /// The language-model server could not be reached, answered with an error, or sent something unreadable.
        case chatFailed
        /// The language model did not answer within its timeout.
        case chatTimedOut
    }

    /// What went wrong.
    public var code: Code
    /// The message for people.
    public var message: String
    /// The file, device or URL concerned, when there is one.
    public var subject: String?

    /// Makes an error.
    public init(_ code: Code, _ message: String, subject: String? = nil) {
        self.code = code
        self.message = message
        self.subject = subject
    }

    public var description: String { message }
}
