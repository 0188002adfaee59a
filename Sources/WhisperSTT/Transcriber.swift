// Long-form transcription: windows of 30 s, decoding with OpenAI's rules and temperature fallback,
// segments and seeking by timestamps.
// Follows faster-whisper's transcribe.py (generate_segments, generate_with_fallback,
// _split_segments_by_timestamps; https://github.com/SYSTRAN/faster-whisper/blob/master/faster_whisper/transcribe.py)
// and openai/whisper's decoding.py (SuppressBlank, SuppressTokens, ApplyTimestampRules).
//
// Shapes: M = mel bins, F = mel frames, V = vocabulary, P = prompt tokens.

import Codecs
import Compute
import Foundation
import Tensors
import VoiceActivity

/// How to transcribe; the defaults are faster-whisper's `transcribe()` defaults with greedy search.
public struct TranscriptionOptions: Codable, Sendable, Equatable {
    /// Temperatures tried in turn while a decode fails the checks below (0 = greedy).
    public var temperatures: [Float] = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    /// A decode whose text compresses better than this (zlib) is too repetitive.
    public var compressionRatioThreshold: Double? = 2.4
    /// A decode whose average log-probability is below this failed.
    public var logProbThreshold: Double? = -1.0
    /// A window whose no-speech probability is above this (and whose decode failed the log-prob check)
    /// is silence.
    public var noSpeechThreshold: Double? = 0.6
    /// Prompt each window with the text so far.
    public var conditionOnPreviousText = true
    /// The prompt is reset after a decode at a temperature above this.
    public var promptResetOnTemperature: Float = 0.5
    /// Text only, no timestamp tokens (segments then span whole windows).
    public var withoutTimestamps = false
    /// The first timestamp may not exceed this many seconds.
    public var maxInitialTimestamp = 1.0
    /// Samples drawn per temperature above 0 (the best by average log-probability is kept).
    public var bestOf = 5
    /// Beam search with this many beams at temperature 0 (1: greedy), OpenAI's BeamSearchDecoder with patience 1.
    public var beamSize = 1
    /// Seed for sampling at temperatures above 0.
    public var seed: UInt64 = 0
    /// Language code for multilingual models (nil: English for English-only models, else "en").
    public var language: String?
    /// Transcribe only the speech a voice-activity detector finds (nil: the whole audio), as
    /// faster-whisper's `vad_filter`; audio with no speech gives no segments.
    public var voiceActivity: VADOptions? = VADOptions()
    /// Token ids of an initial prompt (faster-whisper's `initial_prompt`): they stand before the first window's
    /// text after `<|startofprev|>`, and stay in the prompt until it is reset. `initialPromptText(_:)` gives the
    /// text to encode for a prompt given as text.
    public var initialPrompt: [Int32]?

    public init() {}

    /// The text faster-whisper encodes for an initial prompt: one space, then the prompt without surrounding
    /// whitespace.
    public static func initialPromptText(_ prompt: String) -> String {
        " " + prompt.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A stretch of transcribed speech.
public struct Segment: Codable, Sendable, Equatable {
    public var id: Int
    /// The window's first mel frame.
    public var seek: Int
    /// Start and end in seconds from the beginning of the audio.
    public var start: Double
    public var end: Double
    public var text: String
    public var tokens: [Int32]
    public var temperature: Float
    public var averageLogProbability: Double
    public var compressionRatio: Double
    public var noSpeechProbability: Double
}

/// Transcribes 16 kHz mono audio of any length with one Whisper model.
public struct WhisperTranscriber: Sendable {
    public let model: WhisperModel
    public let tokenizer: WhisperTokenizer
    public let config: WhisperConfig
    public let features: LogMelSpectrogram
    /// The speech detector behind `TranscriptionOptions.voiceActivity`; nil falls back to `EnergyVAD`.
    public let detector: SileroVAD?

    public init(model: WhisperModel, tokenizer: WhisperTokenizer, config: WhisperConfig, detector: SileroVAD? = nil)
        throws
    {
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.detector = detector
        features = try LogMelSpectrogram(melCount: model.hyperparameters.melCount, engine: model.engine)
    }

    /// Loads the CTranslate2 Whisper model in `directory` (model.bin, config.json, vocabulary) for `engine`,
    /// its decoder weights as `computeType` says.
    public init(
        directory: URL, engine: ComputeEngine, detector: SileroVAD? = nil, computeType: WhisperComputeType = .auto
    ) throws {
        let file = try CTranslate2Model(path: directory.appending(path: "model.bin").path)
        try self.init(
            model: try WhisperModel(file, engine: engine, computeType: computeType),
            tokenizer: try WhisperTokenizer(directory: directory),
            config: try WhisperConfig.load(from: directory.appending(path: "config.json")), detector: detector)
    }

    /// Transcribes `samples` (16 kHz mono), calling `progress` with each segment as it is found. With
    /// `options.voiceActivity`, only the detected speech is transcribed and times refer to the original audio.
    ///
    /// Takes the samples over (`consuming`): once the speech is collected the whole recording is let go,
    /// so a long file is not held twice while it is transcribed.
    public func transcribe(
        _ samples: consuming [Float], options: TranscriptionOptions = TranscriptionOptions(),
        profile: TranscriptionProfile = TranscriptionProfile(), progress: (Segment) -> Void = { _ in }
    ) throws -> [Segment] {
        guard let vadOptions = options.voiceActivity else {
            return try transcribeWhole(samples, options: options, profile: profile, progress: progress)
        }
        let audio = samples
        let probabilities = try profile.measure(.voiceActivity) {
            try detector?.probabilities(audio) ?? EnergyVAD().probabilities(audio)
        }
        let chunks = SpeechTimestamps.chunks(
            probabilities: probabilities, sampleCount: audio.count, options: vadOptions)
        guard !chunks.isEmpty else { return [] }
        let map = SpeechTimeMap(chunks: chunks)
        let speech = SpeechTimeMap.collect(audio, chunks: chunks)
        samples = []
        _ = consume audio
        return try transcribeWhole(speech, options: options, profile: profile) { segment in
            progress(Self.restored(segment, map))
        }.map { Self.restored($0, map) }
    }

    static func restored(_ segment: Segment, _ map: SpeechTimeMap) -> Segment {
        var s = segment
        s.start = map.originalTime(segment.start)
        s.end = map.originalTime(segment.end, isEnd: true)
        return s
    }

    /// Transcribes all of `samples`, window after window.
    func transcribeWhole(
        _ samples: [Float], options: TranscriptionOptions, profile: TranscriptionProfile,
        progress: (Segment) -> Void
    ) throws -> [Segment] {
        let mel = try profile.measure(.logMel) { try features.compute(samples) }
        let contentFrames = mel.shape[1] - 1
        let perFrame = Double(LogMelSpectrogram.hopLength) / Double(LogMelSpectrogram.sampleRate)
        let window = LogMelSpectrogram.framesPerWindow
        var rng = SeededRandom(seed: options.seed)
        var segments: [Segment] = []
        // The initial prompt counts as text already transcribed (faster-whisper's generate_segments).
        var allTokens: [Int32] = options.initialPrompt ?? []
        var promptResetSince = 0
        var seek = 0
        while seek < contentFrames {
            let timeOffset = Double(seek) * perFrame
            let segmentSize = min(window, contentFrames - seek)
            let audio = try profile.measure(.encoder) {
                try model.encode(Self.window(mel, from: seek, count: segmentSize, size: window))
            }
            let prompt = self.prompt(previous: Array(allTokens[promptResetSince...]), options: options)
            let decoded = try profile.measure(.decoder, count: 0) {
                try decodeWithFallback(audio: audio, prompt: prompt, options: options, profile: profile, rng: &rng)
            }

            if let threshold = options.noSpeechThreshold, decoded.noSpeechProbability > threshold,
                !(options.logProbThreshold.map { decoded.averageLogProbability > $0 } ?? false)
            {
                seek += segmentSize  // silence: skip the window
                continue
            }
            let previousSeek = seek
            let (pieces, nextSeek) = split(
                decoded.tokens, timeOffset: timeOffset, segmentSize: segmentSize,
                segmentDuration: Double(segmentSize) * perFrame, seek: seek)
            seek = nextSeek
            for piece in pieces {
                let text = tokenizer.decode(piece.tokens)
                if piece.start == piece.end || text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                allTokens += piece.tokens
                let segment = Segment(
                    id: segments.count + 1, seek: previousSeek, start: piece.start, end: piece.end, text: text,
                    tokens: piece.tokens, temperature: decoded.temperature,
                    averageLogProbability: decoded.averageLogProbability,
                    compressionRatio: decoded.compressionRatio, noSpeechProbability: decoded.noSpeechProbability)
                segments.append(segment)
                progress(segment)
            }
            if !options.conditionOnPreviousText || decoded.temperature > options.promptResetOnTemperature {
                promptResetSince = allTokens.count
            }
        }
        return segments
    }

    // MARK: - Windows and prompts

    /// `count` frames of `mel` from `start`, zero-padded to `size` frames in the log-mel domain.
    static func window(_ mel: Tensor, from start: Int, count: Int, size: Int) -> Tensor {
        let (bins, frames) = (mel.shape[0], mel.shape[1])
        var out = Tensor(zeros: [bins, size])
        mel.withUnsafeFloats { m in
            out.withUnsafeMutableFloats { o in
                for k in 0..<bins {
                    (o.baseAddress! + k * size).update(from: m.baseAddress! + k * frames + start, count: count)
                }
            }
        }
        return out
    }

    /// `[<|startofprev|>, previous…] + [<|startoftranscript|>, (language, task)] (+ <|notimestamps|>)`.
    func prompt(previous: [Int32], options: TranscriptionOptions) -> [Int32] {
        var prompt: [Int32] = []
        let half = model.hyperparameters.textContext / 2
        if !previous.isEmpty, let startOfPrevious = tokenizer.startOfPrevious {
            prompt.append(startOfPrevious)
            prompt += previous.suffix(half - 1)
        }
        prompt.append(tokenizer.startOfTranscript)
        if tokenizer.isMultilingual {
            if let language = tokenizer.languages[options.language ?? "en"] { prompt.append(language) }
            if let transcribe = tokenizer.transcribe { prompt.append(transcribe) }
        }
        if options.withoutTimestamps { prompt.append(tokenizer.noTimestamps) }
        return prompt
    }

    // MARK: - Decoding with fallback

    struct Decoded {
        var tokens: [Int32]
        var averageLogProbability: Double
        var temperature: Float
        var compressionRatio: Double
        var noSpeechProbability: Double
    }

    func decodeWithFallback(
        audio: Tensor, prompt: [Int32], options: TranscriptionOptions, profile: TranscriptionProfile,
        rng: inout SeededRandom
    ) throws -> Decoded {
        var all: [Decoded] = []
        var belowThreshold: [Decoded] = []
        for temperature in options.temperatures {
            let samples = temperature > 0 ? max(1, options.bestOf) : 1
            var best: (tokens: [Int32], sum: Double, noSpeech: Double)? = nil
            for _ in 0..<samples {
                let r = try decode(audio: audio, prompt: prompt, temperature: temperature, options: options, rng: &rng)
                profile.count(.decoder, r.tokens.count + 1)
                // CTranslate2 ranks hypotheses by cumulative log-probability over length (length_penalty 1).
                let score = r.sum / Double(max(1, r.tokens.count))
                if best == nil || score > best!.sum / Double(max(1, best!.tokens.count)) { best = r }
            }
            let (tokens, sum, noSpeech) = best!
            let text = tokenizer.decode(tokens).trimmingCharacters(in: .whitespaces)
            let bytes = Array(text.utf8)
            let ratio = bytes.isEmpty ? 0 : Double(bytes.count) / Double(Zlib.compressedSize(of: bytes))
            let result = Decoded(
                tokens: tokens, averageLogProbability: sum / Double(tokens.count + 1), temperature: temperature,
                compressionRatio: ratio, noSpeechProbability: noSpeech)
            all.append(result)
            var fallback = false
            if let threshold = options.compressionRatioThreshold {
                if ratio > threshold { fallback = true } else { belowThreshold.append(result) }
            }
            if let threshold = options.logProbThreshold, result.averageLogProbability < threshold { fallback = true }
            if let noSpeechThreshold = options.noSpeechThreshold, noSpeech > noSpeechThreshold,
                let threshold = options.logProbThreshold, result.averageLogProbability < threshold
            {
                fallback = false  // silence
            }
            if !fallback { return result }
        }
        var chosen = (belowThreshold.isEmpty ? all : belowThreshold).max {
            $0.averageLogProbability < $1.averageLogProbability
        }!
        chosen.temperature = options.temperatures.last ?? 0
        return chosen
    }

    /// One decode of one window: the sampled tokens (end of text excluded), the sum of their
    /// log-probabilities (end of text included, as the reference counts it) and the no-speech probability.
    func decode(
        audio: Tensor, prompt: [Int32], temperature: Float, options: TranscriptionOptions, rng: inout SeededRandom
    ) throws -> (tokens: [Int32], sum: Double, noSpeech: Double) {
        let hp = model.hyperparameters
        var state = try model.decoderState(audio: audio)
        let vocab = hp.vocabularySize
        let sotIndex = prompt.lastIndex(of: tokenizer.startOfTranscript) ?? 0
        // Logits of the start-of-transcript token (no-speech probability) and of the last prompt token only.
        let all = try model.decode(prompt, state: &state, logitRows: [sotIndex, prompt.count - 1])  // [2, V]
        var noSpeech = 0.0
        var logits = [Float](repeating: 0, count: vocab)
        all.withUnsafeFloats { l in
            if let id = tokenizer.noSpeech {
                noSpeech = Double(Self.softmax(Array(l[0..<vocab]))[Int(id)])
            }
            logits = Array(l[vocab..<(2 * vocab)])
        }
        let limit = min(hp.textContext / 2, hp.textContext - prompt.count)
        var tokens: [Int32] = []
        var sum = 0.0
        let suppressed = config.suppressIDs.filter { $0 >= 0 && $0 < vocab }
        let suppressedAtBegin = config.suppressIDsBegin.filter { $0 >= 0 && $0 < vocab }
        if temperature == 0 && options.beamSize > 1 {
            let best = try beamSearch(
                state: state, logits: logits, limit: limit, suppressed: suppressed,
                suppressedAtBegin: suppressedAtBegin, options: options)
            return (best.tokens, best.sum, noSpeech)
        }
        while true {
            applyRules(
                &logits, sampled: tokens, suppressed: suppressed, suppressedAtBegin: suppressedAtBegin, options: options
            )
            let next: Int32
            if temperature == 0 {
                next = Int32(logits.indices.max { logits[$0] < logits[$1] } ?? 0)
            } else {
                next = Self.sample(logits, temperature: temperature, rng: &rng)
            }
            sum += Double(logits[Int(next)] - Self.logSumExp(logits[...]))
            if next == tokenizer.endOfText || tokens.count >= limit { break }
            tokens.append(next)
            if tokens.count >= limit { break }
            let out = try model.decode([next], state: &state)
            logits = out.withUnsafeFloats { Array($0) }
        }
        return (tokens, sum, noSpeech)
    }

    /// Beam search (openai/whisper decoding.py BeamSearchDecoder with patience 1, MaximumLikelihoodRanker with no
    /// length penalty): each step extends every live beam by its `beamSize + 1` likeliest tokens, keeps the
    /// `beamSize` best unfinished candidates by cumulative log-probability and sets aside those that end the text,
    /// until `beamSize` have ended; the winner has the highest log-probability per token.
    func beamSearch(
        state: WhisperModel.DecoderState, logits first: [Float], limit: Int, suppressed: [Int],
        suppressedAtBegin: [Int],
        options: TranscriptionOptions
    ) throws -> (tokens: [Int32], sum: Double) {
        struct Beam {
            var tokens: [Int32]
            var sum: Double
            var state: WhisperModel.DecoderState
            var logits: [Float]
        }
        let width = options.beamSize
        var beams = [Beam(tokens: [], sum: 0, state: state, logits: first)]
        var finished: [(tokens: [Int32], sum: Double)] = []
        while !beams.isEmpty && finished.count < width {
            var candidates: [(beam: Int, token: Int32, sum: Double)] = []
            for (b, beam) in beams.enumerated() {
                var logits = beam.logits
                applyRules(
                    &logits, sampled: beam.tokens, suppressed: suppressed, suppressedAtBegin: suppressedAtBegin,
                    options: options)
                let lse = Self.logSumExp(logits[...])
                for token in Self.top(logits, width + 1) {
                    candidates.append((b, Int32(token), beam.sum + Double(logits[token] - lse)))
                }
            }
            candidates.sort { $0.sum > $1.sum }
            var next: [Beam] = []
            for c in candidates {
                let tokens = beams[c.beam].tokens + [c.token]
                if c.token == tokenizer.endOfText || tokens.count > limit {
                    if finished.count < width { finished.append((Array(tokens.dropLast()), c.sum)) }
                } else if next.count < width {
                    var beam = Beam(tokens: tokens, sum: c.sum, state: beams[c.beam].state, logits: [])
                    let out = try model.decode([c.token], state: &beam.state)
                    beam.logits = out.withUnsafeFloats { Array($0) }
                    next.append(beam)
                }
                // As the reference: candidates ranked below the beam's last kept one are not considered.
                if next.count == width { break }
            }
            beams = next
        }
        // Unfinished beams count when too few ended (as the reference does at the length limit).
        if finished.isEmpty { finished = beams.map { ($0.tokens, $0.sum) } }
        return finished.max { $0.sum / Double(max(1, $0.tokens.count)) < $1.sum / Double(max(1, $1.tokens.count)) }!
    }

    /// Indices of the `k` largest values.
    static func top(_ values: [Float], _ k: Int) -> [Int] {
        var best: [Int] = []
        for i in values.indices where values[i] > -.infinity {
            if best.count < k {
                best.append(i)
                best.sort { values[$0] > values[$1] }
            } else if values[i] > values[best[k - 1]] {
                best[k - 1] = i
                best.sort { values[$0] > values[$1] }
            }
        }
        return best
    }

    /// OpenAI's logit filters, in their order: SuppressBlank, SuppressTokens, ApplyTimestampRules.
    func applyRules(
        _ logits: inout [Float], sampled: [Int32], suppressed: [Int], suppressedAtBegin: [Int],
        options: TranscriptionOptions
    ) {
        if sampled.isEmpty { for id in suppressedAtBegin { logits[id] = -.infinity } }
        for id in suppressed { logits[id] = -.infinity }
        guard !options.withoutTimestamps else { return }
        let begin = Int(tokenizer.timestampBegin)
        let eot = Int(tokenizer.endOfText)
        logits[Int(tokenizer.noTimestamps)] = -.infinity
        if let last = sampled.last {
            let lastWasTimestamp = tokenizer.isTimestamp(last)
            let penultimateWasTimestamp = sampled.count < 2 || tokenizer.isTimestamp(sampled[sampled.count - 2])
            if lastWasTimestamp {
                if penultimateWasTimestamp {
                    for i in begin..<logits.count { logits[i] = -.infinity }
                } else {
                    for i in 0..<eot { logits[i] = -.infinity }
                }
            }
            if let lastTimestamp = sampled.last(where: tokenizer.isTimestamp) {
                // Timestamps never decrease, and a segment has a non-zero length.
                let bound = lastWasTimestamp && !penultimateWasTimestamp ? Int(lastTimestamp) : Int(lastTimestamp) + 1
                for i in begin..<min(bound, logits.count) { logits[i] = -.infinity }
            }
        } else {
            for i in 0..<begin { logits[i] = -.infinity }
            let lastAllowed = begin + Int((options.maxInitialTimestamp / 0.02).rounded())
            if lastAllowed + 1 < logits.count { for i in (lastAllowed + 1)..<logits.count { logits[i] = -.infinity } }
        }
        // If the timestamps together are likelier than any text token, sample a timestamp. Both sides of
        // the comparison are log-probabilities under the same normaliser, which cancels: compare the
        // log-sum-exp of the timestamp logits with the largest text logit.
        var maxText = -Float.infinity
        for i in 0..<begin { maxText = max(maxText, logits[i]) }
        if Self.logSumExp(logits[begin...]) > maxText { for i in 0..<begin { logits[i] = -.infinity } }
    }

    // MARK: - Segments

    struct Piece {
        var start: Double
        var end: Double
        var tokens: [Int32]
    }

    /// Splits a window's tokens at consecutive timestamp pairs and says where the next window starts.
    func split(_ tokens: [Int32], timeOffset: Double, segmentSize: Int, segmentDuration: Double, seek: Int)
        -> ([Piece], Int)
    {
        let isTS = tokenizer.isTimestamp
        let begin = tokenizer.timestampBegin
        let singleTimestampEnding =
            tokens.count >= 2 && !isTS(tokens[tokens.count - 2]) && isTS(tokens[tokens.count - 1])
        let consecutive = tokens.indices.filter { $0 > 0 && isTS(tokens[$0]) && isTS(tokens[$0 - 1]) }
        var pieces: [Piece] = []
        var seek = seek
        if !consecutive.isEmpty {
            var slices = consecutive
            if singleTimestampEnding { slices.append(tokens.count) }
            var lastSlice = 0
            for current in slices {
                let sliced = Array(tokens[lastSlice..<current])
                pieces.append(
                    Piece(
                        start: timeOffset + Double(sliced.first! - begin) * 0.02,
                        end: timeOffset + Double(sliced.last! - begin) * 0.02, tokens: sliced))
                lastSlice = current
            }
            if singleTimestampEnding {
                seek += segmentSize
            } else {
                seek += Int(tokens[lastSlice - 1] - begin) * 2  // two mel frames per timestamp step
            }
        } else {
            var duration = segmentDuration
            if let last = tokens.last(where: isTS), last != begin { duration = Double(last - begin) * 0.02 }
            pieces.append(Piece(start: timeOffset, end: timeOffset + duration, tokens: tokens))
            seek += segmentSize
        }
        return (pieces, seek)
    }

    // MARK: - Small numerics

    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// log Σ exp(x), stable for -inf entries.
    static func logSumExp(_ x: ArraySlice<Float>) -> Float {
        let m = x.max() ?? -.infinity
        guard m > -.infinity else { return -.infinity }
        var s: Float = 0
        for v in x { s += exp(v - m) }
        return m + log(s)
    }

    static func sample(_ logits: [Float], temperature: Float, rng: inout SeededRandom) -> Int32 {
        let p = softmax(logits.map { $0 / temperature })
        var u = Float.random(in: 0..<1, using: &rng)
        for (i, q) in p.enumerated() {
            u -= q
            if u <= 0 { return Int32(i) }
        }
        return Int32(p.indices.last { p[$0] > 0 } ?? 0)
    }
}
