// SpeechOptions and SpeechChunk: what one `SpeechSynthesizer.speak` call is asked for, and what it streams back.

/// How to speak a text: the model's scales and speaker, the silence after each sentence, the volume, and how the
/// decoder cuts each sentence into chunks.
public struct SpeechOptions: Sendable, Equatable {
    /// Scales, speaker and seed. Sentence `i` of a text is synthesized with seed `parameters.seed + i`.
    public var parameters: PiperSynthesisParameters
    /// Seconds of silence after each sentence, the last included (Piper's C++ `--sentence_silence`, default 0.2).
    public var sentenceSilence: Double
    /// Gain applied to the samples, which are then clipped to [−1, 1]. There is no peak normalisation: a
    /// streaming decoder cannot know a sentence's peak before its end (streaming Piper does the same).
    public var volume: Float
    /// Frames of a text's first chunk: small, so the first audio comes early (32 frames ≈ 0.37 s at 22.05 kHz).
    public var firstChunkFrames: Int
    /// Frames of the largest chunk; each chunk of the first sentence doubles the previous one up to this, and
    /// later sentences (decoded while earlier audio plays) use it from the start. A decoder fast enough takes
    /// several of the first sentence's chunks at once (`ChunkPacer`), up to this.
    public var maximumChunkFrames: Int
    /// Frames of context decoded on each side of a chunk and trimmed off; at least
    /// `PiperDecoderStage.minimumMargin` makes the chunks equal the one-shot decode.
    public var marginFrames: Int

    /// Options with the given scales and Piper's C++ defaults for the rest.
    public init(
        parameters: PiperSynthesisParameters = PiperSynthesisParameters(), sentenceSilence: Double = 0.2,
        volume: Float = 1, firstChunkFrames: Int = 32, maximumChunkFrames: Int = 512,
        marginFrames: Int = PiperDecoderStage.minimumMargin
    ) {
        self.parameters = parameters
        self.sentenceSilence = sentenceSilence
        self.volume = volume
        self.firstChunkFrames = firstChunkFrames
        self.maximumChunkFrames = maximumChunkFrames
        self.marginFrames = marginFrames
    }

    /// Throws `PiperError` `.invalidInput` naming the first option out of range.
    func validate() throws(PiperError) {
        guard sentenceSilence >= 0, sentenceSilence.isFinite else {
            throw .input("sentence silence must be 0 s or more, got \(sentenceSilence)")
        }
        guard volume >= 0, volume.isFinite else { throw .input("volume must be 0 or more, got \(volume)") }
        guard firstChunkFrames >= 1, maximumChunkFrames >= 1, marginFrames >= 0 else {
            throw .input(
                "chunks need at least one frame and a margin of 0 or more "
                    + "(got \(firstChunkFrames), \(maximumChunkFrames), \(marginFrames))")
        }
        let p = parameters
        guard p.noiseScale >= 0, p.noiseScale.isFinite, p.noiseW >= 0, p.noiseW.isFinite else {
            throw .input("noise scales must be 0 or more, got \(p.noiseScale) and \(p.noiseW)")
        }
    }
}

/// A piece of synthesized speech: mono samples, in order, ready to play or write.
public struct SpeechChunk: Sendable, Equatable {
    /// Samples in [−1, 1].
    public var samples: [Float]
    /// Hz.
    public var sampleRate: Int
    /// Which sentence of the text it belongs to (0 for the first).
    public var sentence: Int
    /// Whether it is the silence after a sentence (else it is speech).
    public var isSilence: Bool
    /// The compute that made this chunk: the encoder stage's parts on a sentence's first chunk, and each chunk's
    /// decoder time. Summed over a stream, the time each stage took.
    public var timings: PiperTimings

    /// Makes the value.
    public init(
        samples: [Float], sampleRate: Int, sentence: Int, isSilence: Bool, timings: PiperTimings = PiperTimings()
    ) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sentence = sentence
        self.isSilence = isSilence
        self.timings = timings
    }

    /// Seconds of audio.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }
}
