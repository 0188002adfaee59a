// PCMBuffer: a value holding float samples with their sample rate and channel count.

/// Audio as a value: interleaved float samples (nominally in [-1, 1]), the sample rate and the channel count.
///
/// Frame `f` of channel `c` is `samples[f * channelCount + c]`. Mono audio is the common case (Whisper wants
/// 16 kHz mono, Piper voices speak mono), so mono buffers are plain arrays of samples.
///
/// 16-bit integer samples map to floats as `Float(s) / 32768` everywhere in AudioIO (files and devices), so
/// 16-bit audio survives a round trip through a `PCMBuffer` exactly.
public struct PCMBuffer: Sendable, Equatable {
    /// Interleaved samples: `frameCount * channelCount` of them.
    public var samples: [Float]
    /// Frames per second, in Hz.
    public var sampleRate: Int
    /// Samples per frame (1 for mono, 2 for stereo).
    public var channelCount: Int

    /// Wraps interleaved samples.
    /// - Precondition: `channelCount >= 1`, `sampleRate >= 1`, and `samples.count` is a multiple of `channelCount`.
    public init(samples: [Float], sampleRate: Int, channelCount: Int = 1) {
        precondition(channelCount >= 1, "a PCMBuffer needs at least one channel")
        precondition(sampleRate >= 1, "a PCMBuffer needs a positive sample rate")
        precondition(samples.count % channelCount == 0, "\(samples.count) samples do not fill \(channelCount) channels")
        self.samples = samples
        self.sampleRate = sampleRate
        self.channelCount = channelCount
    }

    /// Interleaves one array of samples per channel.
    /// - Precondition: at least one channel, all of the same length.
    public init(channels: [[Float]], sampleRate: Int) {
        precondition(!channels.isEmpty, "a PCMBuffer needs at least one channel")
        let frameCount = channels[0].count
        precondition(channels.allSatisfy { $0.count == frameCount }, "channels differ in length")
        let channelCount = channels.count
        var samples = [Float](repeating: 0, count: frameCount * channelCount)
        for (c, channel) in channels.enumerated() {
            for f in 0..<frameCount { samples[f * channelCount + c] = channel[f] }
        }
        self.init(samples: samples, sampleRate: sampleRate, channelCount: channelCount)
    }

    /// Frames (samples per channel).
    public var frameCount: Int { samples.count / channelCount }

    /// Length in seconds.
    public var duration: Double { Double(frameCount) / Double(sampleRate) }

    /// Whether the buffer holds no frames.
    public var isEmpty: Bool { samples.isEmpty }

    /// The samples of one channel.
    /// - Precondition: `0 <= index < channelCount`.
    public func channel(_ index: Int) -> [Float] {
        precondition(index >= 0 && index < channelCount, "no channel \(index) in \(channelCount)")
        if channelCount == 1 { return samples }
        return (0..<frameCount).map { samples[$0 * channelCount + index] }
    }

    /// One array of samples per channel (de-interleaved).
    public var channels: [[Float]] { (0..<channelCount).map(channel) }

    /// The average of all channels, as one channel at the same rate (the buffer itself when it is mono).
    public func mixedToMono() -> PCMBuffer {
        if channelCount == 1 { return self }
        let scale = 1 / Float(channelCount)
        var mono = [Float](repeating: 0, count: frameCount)
        samples.withUnsafeBufferPointer { interleaved in
            for f in 0..<mono.count {
                var sum: Float = 0
                for c in 0..<channelCount { sum += interleaved[f * channelCount + c] }
                mono[f] = sum * scale
            }
        }
        return PCMBuffer(samples: mono, sampleRate: sampleRate, channelCount: 1)
    }
}
