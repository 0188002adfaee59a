// From per-window speech probabilities to speech chunks, and back from chunk time to file time.
// A port of faster-whisper's get_speech_timestamps, collect_chunks and SpeechTimestampsMap
// (faster_whisper/vad.py, https://github.com/SYSTRAN/faster-whisper/blob/master/faster_whisper/vad.py),
// themselves from snakers4/silero-vad's utils_vad.py.

/// How speech chunks are cut from speech probabilities; defaults are faster-whisper's `VadOptions`.
public struct VADOptions: Codable, Sendable, Equatable {
    /// A window at or above this probability is speech.
    public var threshold: Float = 0.5
    /// Speech ends below this (default: threshold − 0.15, at least 0.01).
    public var negativeThreshold: Float?
    /// Chunks shorter than this are dropped.
    public var minSpeechDurationMs = 0
    /// Chunks are cut before they grow longer than this.
    public var maxSpeechDurationS = Double.infinity
    /// Silence needed to end a chunk.
    public var minSilenceDurationMs = 2000
    /// Padding added on each side of a chunk.
    public var speechPadMs = 400

    public init() {}
}

/// A stretch of speech, in samples.
public struct SpeechChunk: Codable, Sendable, Equatable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

public enum SpeechTimestamps {
    /// Speech chunks of an audio of `sampleCount` samples whose 512-sample windows have `probabilities`.
    public static func chunks(
        probabilities: [Float], sampleCount: Int, options: VADOptions = VADOptions(), sampleRate: Int = 16_000
    ) -> [SpeechChunk] {
        let window = 512
        let threshold = options.threshold
        let negative = options.negativeThreshold ?? max(threshold - 0.15, 0.01)
        let rate = Double(sampleRate)
        let minSpeech = rate * Double(options.minSpeechDurationMs) / 1000
        let pad = rate * Double(options.speechPadMs) / 1000
        let maxSpeech = rate * options.maxSpeechDurationS - Double(window) - 2 * pad
        let minSilence = rate * Double(options.minSilenceDurationMs) / 1000
        let minSilenceAtMaxSpeech = rate * 98 / 1000

        var triggered = false
        var speeches: [SpeechChunk] = []
        var current: SpeechChunk? = nil
        var tempEnd = 0
        var prevEnd = 0
        var nextStart = 0
        for (i, p) in probabilities.enumerated() {
            let position = window * i
            if p >= threshold && tempEnd != 0 {
                tempEnd = 0
                if nextStart < prevEnd { nextStart = position }
            }
            if p >= threshold && !triggered {
                triggered = true
                current = SpeechChunk(start: position, end: 0)
                continue
            }
            if triggered, let c = current, Double(position - c.start) > maxSpeech {
                if prevEnd != 0 {
                    speeches.append(SpeechChunk(start: c.start, end: prevEnd))
                    current = nil
                    if nextStart < prevEnd {
                        triggered = false
                    } else {
                        current = SpeechChunk(start: nextStart, end: 0)
                    }
                    prevEnd = 0
                    nextStart = 0
                    tempEnd = 0
                } else {
                    speeches.append(SpeechChunk(start: c.start, end: position))
                    current = nil
                    prevEnd = 0
                    nextStart = 0
                    tempEnd = 0
                    triggered = false
                    continue
                }
            }
            if p < negative && triggered {
                if tempEnd == 0 { tempEnd = position }
                if Double(position - tempEnd) > minSilenceAtMaxSpeech { prevEnd = tempEnd }
                if Double(position - tempEnd) < minSilence { continue }
                if let c = current, Double(tempEnd - c.start) > minSpeech {
                    speeches.append(SpeechChunk(start: c.start, end: tempEnd))
                }
                current = nil
                prevEnd = 0
                nextStart = 0
                tempEnd = 0
                triggered = false
                continue
            }
        }
        if let c = current, Double(sampleCount - c.start) > minSpeech {
            speeches.append(SpeechChunk(start: c.start, end: sampleCount))
        }
        let padSamples = Int(pad)
        for i in speeches.indices {
            if i == 0 { speeches[i].start = max(0, speeches[i].start - padSamples) }
            if i != speeches.count - 1 {
                let silence = speeches[i + 1].start - speeches[i].end
                if Double(silence) < 2 * pad {
                    speeches[i].end += silence / 2
                    speeches[i + 1].start = max(0, speeches[i + 1].start - silence / 2)
                } else {
                    speeches[i].end = min(sampleCount, speeches[i].end + padSamples)
                    speeches[i + 1].start = max(0, speeches[i + 1].start - padSamples)
                }
            } else {
                speeches[i].end = min(sampleCount, speeches[i].end + padSamples)
            }
        }
        return speeches
    }
}

/// Maps times in the concatenated speech chunks back to times in the original audio.
public struct SpeechTimeMap: Sendable {
    /// Per chunk: where it starts in the concatenated audio and how much silence was cut before it (samples).
    let chunkStarts: [Int]
    let offsets: [Int]
    let sampleRate: Int

    public init(chunks: [SpeechChunk], sampleRate: Int = 16_000) {
        var starts: [Int] = []
        var offsets: [Int] = []
        var position = 0
        var removed = 0
        var previousEnd = 0
        for chunk in chunks {
            removed += chunk.start - previousEnd
            previousEnd = chunk.end
            starts.append(position)
            offsets.append(removed)
            position += chunk.end - chunk.start
        }
        chunkStarts = starts
        self.offsets = offsets
        self.sampleRate = sampleRate
    }

    /// The original time of `seconds` in the concatenated audio; an end time belongs to the chunk it closes.
    public func originalTime(_ seconds: Double, isEnd: Bool = false) -> Double {
        guard !chunkStarts.isEmpty else { return seconds }
        let sample = Int((seconds * Double(sampleRate)).rounded())
        var index = 0
        for (i, start) in chunkStarts.enumerated() where isEnd ? start < sample : start <= sample { index = i }
        return Double(sample + offsets[index]) / Double(sampleRate)
    }

    /// The samples of `chunks` of `samples`, end to end.
    public static func collect(_ samples: [Float], chunks: [SpeechChunk]) -> [Float] {
        var out: [Float] = []
        // Reserved up front: growing by doubling would hold up to three copies of a long file at once.
        out.reserveCapacity(chunks.reduce(0) { $0 + max(0, min(samples.count, $1.end) - max(0, $1.start)) })
        for chunk in chunks where chunk.start < min(samples.count, chunk.end) {
            out += samples[max(0, chunk.start)..<min(samples.count, chunk.end)]
        }
        return out
    }
}
