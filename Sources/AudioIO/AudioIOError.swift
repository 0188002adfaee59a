// AudioIOError: the one error type of the AudioIO target (sound files, resampling, ALSA devices).

/// Everything that can go wrong reading or writing sound, as a value: what went wrong (`code`), a message for
/// people that names the file or device (`message`), and what the C library said (`detail`).
///
/// `description` is the message followed by the detail, ready to print.
public struct AudioIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// A sound file could not be opened or decoded: missing, unreadable, not audio, or corrupt.
        case unreadableFile
        /// A sound file is empty (zero bytes).
        case emptyFile
        /// A sound file could not be encoded or written.
        case unwritableFile
        /// Samples, rates or channel counts that do not fit together (a programmer's or caller's mistake).
        case invalidArgument
        /// The resampler failed.
        case resamplingFailed
        /// No sound device of that name exists (or the system has no sound card at all).
        case noSoundDevice
        /// The sound device exists but another program holds it.
        case deviceBusy
        /// The sound device refused a setting (rate, channels, sample format, period).
        case unsupportedDeviceSetting
        /// An ALSA call on an open device failed.
        case deviceFailure
        /// The device was closed (or a capture is already running on it).
        case deviceUnavailable
    }

    /// What went wrong.
    public var code: Code
    /// The message for people; it names the file or device concerned.
    public var message: String
    /// What the C library said (`sf_strerror`, `snd_strerror`, soxr's message), when it said something.
    public var detail: String?
    /// The file path or ALSA device name concerned, when there is one.
    public var subject: String?
    /// The C library's (negative) error number, when there is one (ALSA's `-errno` codes).
    public var errorNumber: Int32?

    /// Makes an error; the static factories below are the usual way.
    public init(
        _ code: Code, _ message: String, detail: String? = nil, subject: String? = nil, errorNumber: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.detail = detail
        self.subject = subject
        self.errorNumber = errorNumber
    }

    public var description: String {
        guard let detail, !detail.isEmpty else { return message }
        return "\(message) (\(detail))"
    }
}

extension AudioIOError {
    static func unreadable(_ path: String, detail: String?) -> AudioIOError {
        AudioIOError(.unreadableFile, "cannot read audio from \(path)", detail: detail, subject: path)
    }

    static func empty(_ path: String) -> AudioIOError {
        AudioIOError(.emptyFile, "\(path) is empty: it holds no audio", subject: path)
    }

    static func unwritable(_ path: String, detail: String?) -> AudioIOError {
        AudioIOError(.unwritableFile, "cannot write audio to \(path)", detail: detail, subject: path)
    }

    static func invalid(_ message: String) -> AudioIOError {
        AudioIOError(.invalidArgument, message)
    }
}
