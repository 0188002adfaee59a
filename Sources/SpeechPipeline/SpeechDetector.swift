// SpeechDetector: a streaming speech probability per 512-sample window (Silero, or an energy gate when the model is
// missing), and Listener, which cuts capture chunks of any size into those windows and runs the endpointer.

import VoiceActivity

/// A speech probability for each window of a stream, in order; it may keep state between windows.
public protocol SpeechDetector: Sendable {
    /// The probability (0…1) that `window` (`SileroVAD.windowSamples` samples, 16 kHz) holds speech.
    mutating func probability(of window: ArraySlice<Float>) throws -> Float
    /// Forgets the stream so far.
    mutating func reset()
}

/// Silero VAD over the compute engine, its LSTM state carried from window to window.
public struct SileroSpeechDetector: SpeechDetector {
    let model: SileroVAD
    var state = SileroVAD.State()

    /// A detector running `model`.
    public init(model: SileroVAD) {
        self.model = model
    }

    public mutating func probability(of window: ArraySlice<Float>) throws -> Float {
        try model.probability(of: window, state: &state)
    }

    public mutating func reset() {
        state = SileroVAD.State()
    }
}

/// The fallback when no Silero model is installed: speech when a window's RMS level stands clearly above both an
/// absolute floor and a running estimate of the noise floor (which falls at once and rises slowly, so speech does
/// not drag it up). Crude: steady loud noise passes it, which the transcriber's own checks then catch.
public struct EnergySpeechDetector: SpeechDetector {
    /// Windows quieter than this RMS (about −46 dBFS) are never speech.
    public var absoluteFloor: Float = 0.005
    /// Speech must be this many times louder than the noise floor.
    public var ratio: Float = 3
    private var noiseFloor: Float?

    public init() {}

    public mutating func probability(of window: ArraySlice<Float>) throws -> Float {
        var sum: Float = 0
        for sample in window { sum += sample * sample }
        let level = (sum / Float(max(1, window.count))).squareRoot()
        let floor = noiseFloor ?? level
        // Follow the quietest level: down at once, up by 0.2 % a window (some ten seconds to adapt to a louder room).
        noiseFloor = level < floor ? level : floor + (level - floor) * 0.002
        return level > max(absoluteFloor, floor * ratio) ? 1 : 0
    }

    public mutating func reset() {}
}

/// Everything between the capture device and the utterances: windowing, the speech detector and the endpointer.
/// Owned by the one task that reads the capture stream, so it needs no lock.
public struct Listener: Sendable {
    private var detector: any SpeechDetector
    /// The endpointer (its `position` is the stream position of the windows seen).
    public private(set) var endpointer: Endpointer
    private var pending: [Float] = []

    /// A listener with `detector` and endpointing `settings`, for 16 kHz mono audio.
    public init(detector: any SpeechDetector, settings: PipelineConfiguration.VADSettings) {
        self.detector = detector
        endpointer = Endpointer(settings: settings, windowSamples: SileroVAD.windowSamples)
    }

    /// Feeds captured samples; returns what the endpointer saw in the windows they completed.
    public mutating func feed(_ samples: [Float]) throws -> [EndpointEvent] {
        pending += samples
        let window = endpointer.windowSamples
        var events: [EndpointEvent] = []
        var start = 0
        while pending.count - start >= window {
            let slice = pending[start..<(start + window)]
            let probability = try detector.probability(of: slice)
            if let event = endpointer.process(slice, probability: probability) { events.append(event) }
            start += window
        }
        pending.removeFirst(start)
        return events
    }

    /// Drops the utterance in progress and the detector's memory (e.g. after Hark spoke with barge-in off).
    public mutating func reset() {
        endpointer.reset()
        detector.reset()
    }
}
