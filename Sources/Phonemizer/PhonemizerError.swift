// PhonemizerError: the one error type of the Phonemizer target (espeak-ng, Piper's phoneme ids).

/// Everything that can go wrong turning text into phonemes or phoneme ids, as a value: what went wrong (`code`), a
/// message for people (`message`) and what espeak-ng said (`detail`).
///
/// `description` is the message followed by the detail, ready to print.
public struct PhonemizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// The text is empty or only whitespace: there is nothing to speak.
        case emptyText
        /// espeak-ng could not start (its data folder is missing or unreadable).
        case initializationFailed
        /// espeak-ng has no voice of that name.
        case unknownVoice
        /// espeak-ng failed while translating text (it returned no phonemes at all).
        case translationFailed
        /// A voice configuration lacks something Piper's phoneme rules need (such as the `^`, `_`, `$` ids).
        case invalidVoiceConfig
        /// The voice's `phoneme_type` is not one this phonemizer implements (`espeak` and `text` are).
        case unsupportedPhonemeType
    }

    /// What went wrong.
    public var code: Code
    /// The message for people.
    public var message: String
    /// What espeak-ng said (its status message), when it said something.
    public var detail: String?

    /// Makes an error; the static factories below are the usual way.
    public init(_ code: Code, _ message: String, detail: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    public var description: String {
        guard let detail, !detail.isEmpty else { return message }
        return "\(message) (\(detail))"
    }
}

extension PhonemizerError {
    static let emptyText = PhonemizerError(.emptyText, "the text is empty: there is nothing to speak")

    static func initializationFailed(detail: String) -> PhonemizerError {
        PhonemizerError(
            .initializationFailed,
            "espeak-ng could not start: is espeak-ng-data installed (apt-get install espeak-ng-data)?",
            detail: detail)
    }

    static func unknownVoice(_ voice: String, detail: String?) -> PhonemizerError {
        PhonemizerError(
            .unknownVoice, "espeak-ng has no voice '\(voice)' (espeak-ng --voices lists them)", detail: detail)
    }

    static func translationFailed(_ voice: String) -> PhonemizerError {
        PhonemizerError(.translationFailed, "espeak-ng returned no phonemes (voice '\(voice)')")
    }

    static func invalidVoiceConfig(_ reason: String) -> PhonemizerError {
        PhonemizerError(.invalidVoiceConfig, "the voice configuration cannot be used: \(reason)")
    }

    static func unsupportedPhonemeType(_ type: String) -> PhonemizerError {
        PhonemizerError(
            .unsupportedPhonemeType,
            "the voice's phoneme_type '\(type)' is not supported (supported: espeak, text)")
    }
}
