// Endpointer: turns per-window speech probabilities into utterances (start with pre-roll, end after silence, cut at
// a maximum length). Pure and synchronous: it sees samples and probabilities, never a clock, so tests drive it with
// synthetic frames and all times are sample counts.

/// What the endpointer saw in one window.
public enum EndpointEvent: Sendable, Equatable {
    /// Speech was confirmed; it began at `onset` (samples since the start of the stream).
    case speechStarted(onset: Int)
    /// The speaker paused long enough that, should the silence go on until the end, the utterance will be exactly
    /// these samples: a transcription may start now, to be kept if the `utterance` event that follows is equal.
    case pause(Utterance)
    /// An utterance ended: its samples (pre-roll included, most of the trailing silence dropped) and where it
    /// started and ended in the stream.
    case utterance(Utterance)
}

/// One utterance of the user, 16 kHz mono.
public struct Utterance: Sendable, Equatable {
    /// The samples, from the pre-roll to shortly after the last speech.
    public var samples: [Float]
    /// Position of the first sample in the stream.
    public var start: Int
    /// Position just past the last sample in the stream.
    public var end: Int
    /// Whether it was cut at the maximum length rather than ended by silence.
    public var truncated: Bool
}

/// Endpointing over fixed windows (512 samples at 16 kHz, Silero's): speech starts after `minSpeechWindows`
/// windows at or above the threshold in a row and ends after `silenceWindows` windows below a slightly lower one
/// (hysteresis, as Silero's own `get_speech_timestamps`).
public struct Endpointer: Sendable {
    /// Samples per window.
    public let windowSamples: Int
    /// Probability at or above which a window is speech.
    public let threshold: Float
    /// Windows of speech in a row that start an utterance.
    public let minSpeechWindows: Int
    /// Windows of silence in a row that end one.
    public let silenceWindows: Int
    /// Samples kept from before the onset.
    public let preRollSamples: Int
    /// The longest utterance, in samples.
    public let maxSamples: Int

    /// Samples seen so far (the position of the next window).
    public private(set) var position = 0
    /// Whether an utterance is in progress.
    public private(set) var inSpeech = false
    /// The last windows before speech (pre-roll plus the candidate speech windows).
    private var recent: [Float] = []
    private var speechRun = 0
    private var silenceRun = 0
    private var utterance: [Float] = []
    private var utteranceStart = 0

    /// Endpointing with settings in seconds at `sampleRate`.
    public init(settings: PipelineConfiguration.VADSettings, sampleRate: Int = 16_000, windowSamples: Int = 512) {
        let window = Double(windowSamples) / Double(sampleRate)
        self.windowSamples = windowSamples
        threshold = settings.threshold
        minSpeechWindows = max(1, Int((settings.minSpeech / window).rounded(.up)))
        silenceWindows = max(1, Int((settings.silence / window).rounded(.up)))
        preRollSamples = Int(settings.preRoll * Double(sampleRate))
        maxSamples = Int(settings.maxUtterance * Double(sampleRate))
    }

    /// Forgets any utterance in progress (e.g. audio heard while Hark spoke with barge-in off); keeps the position.
    public mutating func reset() {
        inSpeech = false
        recent = []
        utterance = []
        speechRun = 0
        silenceRun = 0
    }

    /// Takes one window and its speech probability.
    /// - Precondition: `window.count == windowSamples`.
    public mutating func process(_ window: ArraySlice<Float>, probability: Float) -> EndpointEvent? {
        precondition(window.count == windowSamples)
        defer { position += windowSamples }
        if !inSpeech {
            recent += window
            let keep = preRollSamples + minSpeechWindows * windowSamples
            if recent.count > keep { recent.removeFirst(recent.count - keep) }
            speechRun = probability >= threshold ? speechRun + 1 : 0
            guard speechRun >= minSpeechWindows else { return nil }
            inSpeech = true
            silenceRun = 0
            let onset = position + windowSamples - speechRun * windowSamples
            utterance = recent
            utteranceStart = position + windowSamples - recent.count
            recent = []
            return .speechStarted(onset: onset)
        }
        utterance += window
        // Hysteresis: once in speech, a window needs to fall clearly below the threshold to count as silence.
        silenceRun = probability < threshold - 0.15 ? silenceRun + 1 : 0
        if silenceRun >= silenceWindows || utterance.count >= maxSamples {
            let truncated = silenceRun < silenceWindows
            let drop = truncated ? 0 : max(0, (silenceRun - Self.keptSilenceWindows) * windowSamples)
            let samples = Array(utterance.dropLast(drop))
            let event = Utterance(
                samples: samples, start: utteranceStart, end: utteranceStart + samples.count, truncated: truncated)
            reset()
            return .utterance(event)
        }
        // Once the silence kept at the end has passed, the utterance is complete unless speech resumes.
        if silenceRun == Self.keptSilenceWindows, silenceWindows > silenceRun {
            return .pause(
                Utterance(
                    samples: utterance, start: utteranceStart, end: utteranceStart + utterance.count, truncated: false))
        }
        return nil
    }

    /// Windows of trailing silence an utterance keeps (about 0.2 s): Whisper likes a little room after the last word.
    static let keptSilenceWindows = 6
}
