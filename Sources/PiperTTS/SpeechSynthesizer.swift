// SpeechSynthesizer: text → speech, streamed chunk by chunk through a two-stage pipeline.
//
//   text ─ phonemizer ─▶ sentences ─ encoder stage ─▶ latent pieces (≤ 1 queued) ─ decoder stage ─▶ chunks (≤ 4)
//
// Each sentence is its own model run, as in Piper (research/piper.md §2.3). The encoder stage (text encoder,
// duration predictor, flow; CPU) and the decoder stage (HiFi-GAN; the bound backend) are actors on threads of their
// own, joined by bounded queues, so while the decoder turns sentence N into audio the encoder already works on
// sentence N + 1, and neither runs further ahead than its queue allows. Each sentence is decoded in frame ranges
// with a margin (PiperDecoderStage.chunks): the first chunk of a text is small so that audio starts early, later
// ones larger. For the first chunk of a very long first sentence (over sixteen first windows, about 8 s of speech)
// the encoder runs the flow over its frames alone (PiperPrior.swift) and hands them on, and runs the flow over the
// rest of the sentence once they are decoded: the first audio neither waits for the whole flow nor shares the cores
// with it.
// Chunks carry the voice's raw loudness times the volume, clipped to [−1, 1] (no peak normalisation, as in
// streaming Piper), and `sentenceSilence` seconds of zeros follow each sentence (Piper C++).

import Phonemizer

/// Speaks text with a Piper voice: phonemizes it, then streams the audio sentence by sentence, chunk by chunk.
///
/// ```swift
/// let voice = try PiperVoice(modelPath: path)
/// let synthesizer = try SpeechSynthesizer(voice: voice)
/// for try await chunk in synthesizer.speak("Hello from Hark.", options: synthesizer.defaultOptions) {
///     play(chunk.samples)
/// }
/// ```
///
/// The stages are shared by every stream of one synthesizer (each stage runs one call at a time), so a
/// synthesizer can serve several streams; they then take turns on each stage.
public struct SpeechSynthesizer: Sendable {
    /// The voice.
    public let voice: PiperVoice
    /// How text becomes the voice's phoneme ids.
    public let phonemeConfig: PiperPhonemeConfig
    /// The phonemizer (espeak-ng's one owner).
    public let phonemizer: EspeakPhonemizer
    private let encoder: EncoderWorker
    private let decoder: DecoderWorker

    /// Chunks a stream holds ready before its consumer takes them (each at most `maximumChunkFrames` frames).
    public static let queuedChunks = 4

    /// Makes a synthesizer for `voice`, starting a thread for each stage.
    /// - Parameters:
    ///   - phonemeConfig: how to phonemize for the voice; nil derives it from `voice.config` (read it from the
    ///     `.onnx.json` with `PiperPhonemeConfig.load(from:)` to honour keys `PiperVoiceConfig` does not keep, such
    ///     as piper1-gpl's `vowel_clusters`).
    ///   - phonemizer: the phonemizer to use.
    /// - Throws: `PiperError` `.computeFailed` when a stage's thread cannot start.
    public init(
        voice: PiperVoice, phonemeConfig: PiperPhonemeConfig? = nil, phonemizer: EspeakPhonemizer = EspeakPhonemizer()
    ) throws(PiperError) {
        self.voice = voice
        self.phonemeConfig =
            phonemeConfig
            ?? PiperPhonemeConfig(
                espeakVoice: voice.config.espeak.voice, phonemeIDMap: voice.config.phonemeIDMap,
                phonemeType: voice.config.phonemeType, phonemeMap: voice.config.phonemeMap)
        self.phonemizer = phonemizer
        encoder = try EncoderWorker(voice.encoder)
        decoder = try DecoderWorker(voice.decoder)
    }

    /// Output sample rate in Hz.
    public var sampleRate: Int { voice.sampleRate }

    /// The voice's own scales with Piper's C++ defaults for the rest.
    public var defaultOptions: SpeechOptions { SpeechOptions(parameters: voice.defaultParameters) }

    // MARK: - Text

    /// The sentences of `text` with their phonemes and ids, one model run each.
    /// - Throws: `PiperError` `.invalidInput` for empty or whitespace-only text, or text with nothing to pronounce;
    ///   `.invalidConfig` when the voice's phoneme settings or espeak-ng voice cannot be used (the phonemizer's
    ///   error is the `cause`).
    public func sentences(for text: String) async throws(PiperError) -> [PiperSentence] {
        let sentences: [PiperSentence]
        do {
            sentences = try await phonemizer.piperSentences(for: text, config: phonemeConfig)
        } catch {
            switch error.code {
            case .emptyText, .translationFailed:
                throw PiperError(.invalidInput, error.description, cause: error)
            case .invalidVoiceConfig, .unsupportedPhonemeType, .unknownVoice, .initializationFailed:
                throw PiperError(.invalidConfig, error.description, cause: error)
            }
        }
        guard !sentences.isEmpty else { throw .input("the text has nothing to pronounce") }
        return sentences
    }

    // MARK: - Streaming

    /// Speaks `text`: its audio, chunk by chunk, as soon as each is ready.
    ///
    /// The stream throws the first `PiperError` of the text (see `sentences(for:)`), of the options
    /// (`.invalidInput`) or of a stage, after the chunks made before it. Dropping the stream or cancelling the task
    /// that iterates it stops the pipeline (the stream then throws `CancellationError`).
    public func speak(_ text: String, options: SpeechOptions) -> AsyncThrowingStream<SpeechChunk, any Error> {
        stream(options) { () async throws(PiperError) in try await sentences(for: text) }
    }

    /// Speaks sentences already phonemized (`sentences(for:)`), as `speak(_:options:)` does.
    public func speak(_ sentences: [PiperSentence], options: SpeechOptions) -> AsyncThrowingStream<
        SpeechChunk, any Error
    > {
        stream(options) { () async throws(PiperError) in
            guard !sentences.isEmpty else { throw .input("no sentences to speak") }
            return sentences
        }
    }

    /// The whole audio of `text`: every chunk of `speak(_:options:)` joined, with the summed timings.
    /// - Throws: as the stream.
    public func synthesize(_ text: String, options: SpeechOptions) async throws -> PiperAudio {
        var audio = PiperAudio(samples: [], sampleRate: sampleRate, timings: PiperTimings())
        for try await chunk in speak(text, options: options) {
            audio.samples += chunk.samples
            audio.timings.add(chunk.timings)
        }
        return audio
    }

    /// Starts the pipeline on the sentences `source` gives; the stream pulls from its output queue.
    private func stream(
        _ options: SpeechOptions, _ source: @escaping @Sendable () async throws(PiperError) -> [PiperSentence]
    ) -> AsyncThrowingStream<SpeechChunk, any Error> {
        let output = BoundedChannel<SpeechChunk>(capacity: Self.queuedChunks)
        let producer = Task {
            do {
                try options.validate()
                try await run(try await source(), options: options, into: output)
                output.finish()
            } catch {
                output.finish(throwing: error)
            }
        }
        let pipeline = PipelineRun(output: output, producer: producer)
        return AsyncThrowingStream { try await pipeline.output.next() }
    }

    /// The two stages over `sentences`, concurrently, the encoder at most one piece of latent ahead of the decoder.
    ///
    /// The encoder cuts each sentence into chunks (`PiperDecoderStage.chunks`) and runs the flow over one window
    /// covering them all, except for the text's first sentence when it is very long (over sixteen first windows): there it
    /// runs the flow over the first chunk's window alone and hands it on, and waits until the decoder has decoded
    /// it before it goes on, so that the first audio has the cores to itself.
    private func run(_ sentences: [PiperSentence], options: SpeechOptions, into output: BoundedChannel<SpeechChunk>)
        async throws
    {
        let pieces = BoundedChannel<LatentPiece>(capacity: 1)
        let firstChunkDecoded = BoundedChannel<Void>(capacity: 1)
        let (encoder, decoder, sampleRate) = (encoder, decoder, sampleRate)
        let margin = options.marginFrames
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for (index, sentence) in sentences.enumerated() {
                        var parameters = options.parameters
                        parameters.seed &+= UInt64(index)
                        let prior = try await encoder.prior(ids: sentence.ids, parameters: parameters)
                        let frames = prior.frameCount
                        let chunks = PiperDecoderStage.chunks(
                            frameCount: frames,
                            firstChunk: index == 0 ? options.firstChunkFrames : options.maximumChunkFrames,
                            maximumChunk: options.maximumChunkFrames)
                        var parts = [chunks[...]]
                        // The first chunk's flow runs alone only when the rest is very long: the rest's flow then
                        // redoes the first window (with its context). Above four windows that cost 3–4 % of
                        // synthesis (tts.py) for 0.01 s of earlier first audio; above sixteen the whole flow
                        // would hold the first audio back by more.
                        if index == 0 && chunks.count > 1 && frames > 16 * (chunks[0].count + margin) {
                            parts = [chunks[..<1], chunks[1...]]
                        }
                        for (k, part) in parts.enumerated() {
                            // The frames the part's chunks decode, with the decoder's margin.
                            let window =
                                max(0, part.first!.lowerBound - margin)..<min(frames, part.last!.upperBound + margin)
                            var latent = try await encoder.flow(prior, window: window)
                            if k == 0 { latent = latent.adding(prior.timings) }
                            let isFirst = index == 0 && k == 0
                            try await pieces.send(
                                LatentPiece(
                                    latent: latent, offset: window.lowerBound, chunks: Array(part), sentence: index,
                                    isFirst: isFirst, endsSentence: k == parts.count - 1))
                            if isFirst { _ = try await firstChunkDecoded.next() }
                        }
                    }
                    pieces.finish()
                } catch {
                    pieces.finish(throwing: error)
                    throw error
                }
            }
            group.addTask {
                let silence = [Float](repeating: 0, count: Int(options.sentenceSilence * Double(sampleRate)))
                var pacer = ChunkPacer(maximumFrames: options.maximumChunkFrames)
                while let piece = try await pieces.next() {
                    var k = 0
                    while k < piece.chunks.count {
                        let count = pacer.count(of: piece.chunks[k...])
                        let frames = piece.chunks[k].lowerBound..<piece.chunks[k + count - 1].upperBound
                        let local = (frames.lowerBound - piece.offset)..<(frames.upperBound - piece.offset)
                        let (samples, time) = try await decoder.decode(
                            piece.latent, frames: local, margin: margin, volume: options.volume)
                        if piece.isFirst && k == 0 { try await firstChunkDecoded.send(()) }
                        var timings = k == 0 ? piece.latent.timings : PiperTimings()
                        timings.decoder = time
                        try await output.send(
                            SpeechChunk(
                                samples: samples, sampleRate: sampleRate, sentence: piece.sentence, isSilence: false,
                                timings: timings))
                        pacer.delivered(
                            frames: frames.count, seconds: Double(samples.count) / Double(sampleRate), in: time)
                        k += count
                    }
                    if piece.endsSentence && !silence.isEmpty {
                        try await output.send(
                            SpeechChunk(
                                samples: silence, sampleRate: sampleRate, sentence: piece.sentence, isSilence: true))
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// How many of a sentence's planned chunks the decoder stage decodes as one call. The plan starts small for early
/// first audio; once audio flows, a fast decoder takes the next planned chunks together (up to `maximumFrames`), so
/// fewer margins are decoded twice, but only as many as its measured speed decodes within half the audio delivered
/// and not yet due to play (for a consumer that plays from the first chunk on), so a slow machine keeps the plan.
struct ChunkPacer {
    let maximumFrames: Int
    private let clock = ContinuousClock()
    private var firstAudio: ContinuousClock.Instant?
    /// Seconds of audio delivered so far.
    private var audio = 0.0
    /// The last call's decoding seconds per frame (margins included).
    private var secondsPerFrame: Double?

    init(maximumFrames: Int) { self.maximumFrames = maximumFrames }

    /// At least one; more while the merged frames stay within `maximumFrames` and the time budget.
    func count(of planned: ArraySlice<Range<Int>>) -> Int {
        guard let secondsPerFrame, let firstAudio else { return 1 }
        let ahead = audio - Self.seconds(clock.now - firstAudio)
        var count = 1
        var frames = planned.first!.count
        for next in planned.dropFirst() {
            let merged = frames + next.count
            guard merged <= maximumFrames, Double(merged) * secondsPerFrame <= ahead / 2 else { break }
            (count, frames) = (count + 1, merged)
        }
        return count
    }

    /// Records a decoded call of `frames` frames that gave `seconds` of audio in `time`.
    mutating func delivered(frames: Int, seconds: Double, in time: Duration) {
        if firstAudio == nil { firstAudio = clock.now }
        audio += seconds
        secondsPerFrame = Self.seconds(time) / Double(max(frames, 1))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// Latent frames of one sentence on their way from the encoder stage to the decoder stage: a window of the
/// sentence's latent, with the chunks to decode from it.
private struct LatentPiece: Sendable {
    /// The window's frames; its timings are the encoder stage's work for it.
    let latent: PiperLatent
    /// The sentence frame the window starts at.
    let offset: Int
    /// Frame ranges of the sentence to decode, in order; each lies in the window with the decoder's margin on both
    /// sides, or reaches an end of the sentence.
    let chunks: [Range<Int>]
    /// Which sentence.
    let sentence: Int
    /// Whether it is the text's first piece, whose first chunk is the first audio: the encoder waits until it is
    /// decoded.
    let isFirst: Bool
    /// Whether the sentence's last chunk is in this piece.
    let endsSentence: Bool
}

extension PiperLatent {
    /// The same latent with `timings` added to its own.
    func adding(_ timings: PiperTimings) -> PiperLatent {
        var sum = self.timings
        sum.add(timings)
        return PiperLatent(z: z, durations: durations, speaker: speaker, timings: sum)
    }
}

/// One running pipeline, kept alive by its stream: when the stream goes away, so does this, and the pipeline is
/// cancelled (nothing is left waiting on a queue nobody reads).
private final class PipelineRun: Sendable {
    let output: BoundedChannel<SpeechChunk>
    let producer: Task<Void, Never>

    init(output: BoundedChannel<SpeechChunk>, producer: Task<Void, Never>) {
        self.output = output
        self.producer = producer
    }

    deinit {
        output.cancel()
        producer.cancel()
    }
}

extension PiperTimings {
    /// Adds `other`'s times to these.
    public mutating func add(_ other: PiperTimings) {
        textEncoder += other.textEncoder
        durationPredictor += other.durationPredictor
        flow += other.flow
        decoder += other.decoder
    }
}
