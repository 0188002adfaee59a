// The fallback voice-activity detector when no Silero model is installed: per 32 ms window, speech when
// the window's RMS level stands clearly above both an absolute floor and the quietest windows seen (an
// estimate of the noise floor). Crude next to Silero (music and steady noise pass it), but it keeps
// silence out of the transcriber.

/// Speech "probabilities" (0 or 1) from signal energy, in the same 512-sample windows as `SileroVAD`.
public struct EnergyVAD: Sendable {
    /// Windows quieter than this RMS (about −46 dBFS) are never speech.
    public var absoluteFloor: Float = 0.005
    /// Speech must be this many times louder than the noise floor.
    public var ratio: Float = 3

    public init() {}

    public func probabilities(_ samples: [Float]) -> [Float] {
        let window = SileroVAD.windowSamples
        let padded = samples + [Float](repeating: 0, count: window - samples.count % window)
        let levels = stride(from: 0, to: padded.count, by: window).map { start -> Float in
            var sum: Float = 0
            for i in start..<(start + window) { sum += padded[i] * padded[i] }
            return (sum / Float(window)).squareRoot()
        }
        // The noise floor: the 10th percentile of the window levels.
        let sorted = levels.sorted()
        let noise = sorted.isEmpty ? 0 : sorted[sorted.count / 10]
        let threshold = max(absoluteFloor, noise * ratio)
        return levels.map { $0 > threshold ? 1 : 0 }
    }
}
