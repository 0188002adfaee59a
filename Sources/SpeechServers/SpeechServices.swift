// SpeechServices: the models both servers (and harkd's voice loop) share: one Whisper transcriber and the Piper
// voices, each behind its own bounded queue (ModelQueue). Loading follows Sources/transcribe and Sources/speak
// (ModelStore resolves names; the voice's .onnx.json gives the phoneme config; Silero VAD when installed).

import AudioIO
import Compute
import Dispatch
import Foundation
import LanguageModel
import Logging
import ModelStore
import Phonemizer
import PiperTTS
import VoiceActivity
import WhisperSTT

/// An installed voice as the servers announce it, known without loading its weights (from its `.onnx.json`).
public struct VoiceDescription: Sendable, Equatable {
    /// The name clients ask for (the catalog name, or the file name without `.onnx`).
    public var name: String
    /// The `.onnx` file.
    public var modelPath: String
    /// Language code such as `en_US` (from the config; else the espeak voice).
    public var language: String
    /// Speaker names of a multi-speaker voice, by id; empty for a single speaker.
    public var speakers: [String]
    /// Hz.
    public var sampleRate: Int
    /// What the catalog says about it.
    public var summary: String

    public init(
        name: String, modelPath: String, language: String, speakers: [String], sampleRate: Int, summary: String = ""
    ) {
        self.name = name
        self.modelPath = modelPath
        self.language = language
        self.speakers = speakers
        self.sampleRate = sampleRate
        self.summary = summary
    }

    /// Reads the voice's config beside `modelPath`.
    /// - Throws: `PiperError` for a config that is missing or not Piper's.
    public init(name: String, modelPath: String, summary: String = "") throws(PiperError) {
        let config = try PiperVoiceConfig.load(from: URL(fileURLWithPath: modelPath + ".json"))
        let speakers = config.speakerIDMap.sorted { $0.value < $1.value }.map(\.key)
        self.init(
            name: name, modelPath: modelPath, language: config.languageCode ?? config.espeak.voice,
            speakers: speakers, sampleRate: config.audio.sampleRate, summary: summary)
    }
}

/// A voice ready to speak, with the queue in front of it.
public struct LoadedVoice: Sendable {
    public let description: VoiceDescription
    public let synthesizer: SpeechSynthesizer
    public let queue: ModelQueue
}

/// A speech request that holds its voice: stream its chunks, then release it.
public struct SpeechJob: Sendable {
    public let voice: LoadedVoice
    public let text: String
    public let options: SpeechOptions
    /// The voice's slot; released by `release()` or when the last copy of the job goes away.
    let slot: ModelSlot

    /// Hz of the chunks.
    public var sampleRate: Int { voice.synthesizer.sampleRate }

    /// The speech, chunk by chunk as the decoder makes it. Dropping the stream stops the synthesis.
    public func chunks() -> AsyncThrowingStream<PiperTTS.SpeechChunk, any Error> {
        voice.synthesizer.speak(text, options: options)
    }

    /// Gives the voice to the next request.
    public func release() { slot.release() }
}

/// The result of one transcription.
public struct TranscriptionResult: Sendable {
    public var segments: [Segment]
    /// Seconds of audio transcribed.
    public var duration: Double
    public var language: String

    /// The segments' text joined, trimmed (faster-whisper's and OpenAI's `text`).
    public var text: String {
        segments.map(\.text).joined().trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The loaded models the Wyoming and HTTP servers share: loaded once, each behind a bounded queue.
///
/// The STT model is loaded at start; voices are loaded on first use (every installed voice is announced) except
/// the default one, loaded at start. Hand in already loaded models (`init(transcriber:…)`) to share them with
/// harkd's voice loop.
public final class SpeechServices: Sendable {
    /// The STT model's name (announced in Wyoming `info`, `/v1/models`).
    public let sttName: String
    /// The languages the STT model transcribes.
    public let sttLanguages: [String]
    /// The transcriber, shared by every request.
    public let transcriber: WhisperTranscriber
    /// The STT model's queue.
    public let sttQueue: ModelQueue
    /// Every voice the servers announce, the default first.
    public let voices: [VoiceDescription]
    /// The voice used when a request names none (or names one of OpenAI's).
    public let defaultVoice: String
    /// Encodes transcription prompts: the STT model's `tokenizer.json` (nil: the model has none).
    public let promptTokenizer: Tokenizer?
    private let registry: VoiceRegistry
    let logger: Logger

    /// Services over models already loaded (harkd's voice loop shares them).
    /// - Parameters:
    ///   - defaultSynthesizer: the default voice, loaded; it must be among `voices` by name (else it is added).
    ///   - engine: where voices loaded later run.
    ///   - promptTokenizer: the STT model's text tokenizer (`promptTokenizer(sttDirectory:)`); nil refuses prompts.
    public init(
        transcriber: WhisperTranscriber, sttName: String, voices: [VoiceDescription], defaultVoice: VoiceDescription,
        defaultSynthesizer: SpeechSynthesizer? = nil, engine: ComputeEngine = ComputeEngine(),
        promptTokenizer: Tokenizer? = nil, queueDepth: Int = 8, retryAfter: Int = 2,
        logger: Logger = Logger(label: "hark.servers")
    ) {
        self.transcriber = transcriber
        self.promptTokenizer = promptTokenizer
        self.sttName = sttName
        self.sttLanguages = Self.languages(of: transcriber)
        self.sttQueue = ModelQueue(name: sttName, depth: queueDepth, retryAfter: retryAfter)
        var all = voices.filter { $0.name != defaultVoice.name }
        all.insert(defaultVoice, at: 0)
        self.voices = all
        self.defaultVoice = defaultVoice.name
        self.logger = logger
        registry = VoiceRegistry(
            voices: all, preloaded: defaultSynthesizer.map { (defaultVoice, $0) }, engine: engine,
            queueDepth: queueDepth, retryAfter: retryAfter, logger: logger)
    }

    /// Loads the STT model (`sttModel`: a name or path, nil for the catalog's default), announces every installed
    /// voice, and loads the default voice (`defaultVoice`, nil for the catalog's default).
    /// - Throws: `ModelStoreError` when a model is missing, the loaders' errors when one is unusable.
    public static func load(
        store: ModelStore, sttModel: String? = nil, defaultVoice: String? = nil,
        engine: ComputeEngine = ComputeEngine(), queueDepth: Int = 8, retryAfter: Int = 2,
        logger: Logger = Logger(label: "hark.servers")
    ) async throws -> SpeechServices {
        let stt = try store.resolve(sttModel, kind: .stt)
        let vad = try? store.defaultModel(.vad)
        let transcriber = try await blocking {
            let detector = try vad.map { try SileroVAD(path: $0.location.path, engine: engine) }
            return try WhisperTranscriber(directory: stt.location, engine: engine, detector: detector)
        }
        let chosen = try store.resolve(defaultVoice, kind: .voice)
        let main = try VoiceDescription(
            name: chosen.name, modelPath: chosen.location.path, summary: chosen.entry?.summary ?? "")
        let voices = installedVoices(in: store, logger: logger)
        let synthesizer = try await VoiceRegistry.load(main, engine: engine)
        logger.info(
            "models loaded",
            metadata: ["stt": "\(stt.name)", "voice": "\(main.name)", "voices": "\(voices.count)"])
        return SpeechServices(
            transcriber: transcriber, sttName: stt.name, voices: voices, defaultVoice: main,
            defaultSynthesizer: synthesizer, engine: engine,
            promptTokenizer: promptTokenizer(sttDirectory: stt.location, logger: logger), queueDepth: queueDepth,
            retryAfter: retryAfter, logger: logger)
    }

    /// Every installed catalog voice whose config reads; the others are logged and left out.
    public static func installedVoices(in store: ModelStore, logger: Logger) -> [VoiceDescription] {
        var voices: [VoiceDescription] = []
        for entry in store.entries(.voice) {
            guard let model = try? store.installedModel(entry, kind: .voice) else { continue }
            do {
                voices.append(
                    try VoiceDescription(name: model.name, modelPath: model.location.path, summary: entry.summary))
            } catch {
                logger.warning("voice \(model.name) is not announced: \(error)")
            }
        }
        return voices
    }

    /// The text tokenizer of the Whisper model in `sttDirectory` (its `tokenizer.json`), for prompts; nil, logged,
    /// when the model has none that reads.
    public static func promptTokenizer(sttDirectory: URL, logger: Logger) -> Tokenizer? {
        let file = sttDirectory.appending(path: "tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        do {
            return try Tokenizer(huggingFaceFile: file)
        } catch {
            logger.warning("transcription prompts are off: \(error)")
            return nil
        }
    }

    // MARK: - Speech to text

    /// Transcribes 16 kHz mono samples, waiting in the STT queue.
    /// - Parameters:
    ///   - prompt: text the model takes as what came before (faster-whisper's `initial_prompt`: spelling, names).
    /// - Throws: `ServerError.busy` when the queue is full, `.internalFailure` when the model fails, `.unsupported`
    ///   for a prompt when the model has no tokenizer for it.
    public func transcribe(
        _ samples: [Float], language: String? = nil, temperature: Float? = nil, prompt: String? = nil
    ) async throws -> TranscriptionResult {
        var options = TranscriptionOptions()
        if let language, !language.isEmpty { options.language = Self.languageCode(language) }
        if let prompt, prompt.contains(where: { !$0.isWhitespace }) {
            options.initialPrompt = try promptTokens(prompt)
        }
        // OpenAI: 0 (or none) lets the model raise the temperature on failure; above 0 is the one temperature.
        if let temperature, temperature > 0 { options.temperatures = [min(temperature, 1)] }
        let (transcriber, chosen) = (transcriber, options)
        let segments = try await sttQueue.run { () async throws -> [Segment] in
            try Task.checkCancellation()
            do {
                return try await blocking { try transcriber.transcribe(samples, options: chosen) }
            } catch {
                throw ServerError.internalFailure("transcription failed: \(error)")
            }
        }
        return TranscriptionResult(
            segments: segments, duration: Double(samples.count) / Double(LogMelSpectrogram.sampleRate),
            language: options.language ?? "en")
    }

    /// The token ids of a transcription prompt, as faster-whisper encodes `initial_prompt` (special tokens written
    /// in it, such as `<|endoftext|>`, become their ids there too).
    /// - Throws: `ServerError.unsupported` when the model has no tokenizer for prompts.
    public func promptTokens(_ prompt: String) throws(ServerError) -> [Int32] {
        guard let promptTokenizer else {
            throw .unsupported("prompt: the STT model \(sttName) has no tokenizer.json to encode it with")
        }
        return promptTokenizer.encode(
            TranscriptionOptions.initialPromptText(prompt), addSpecial: false, parseSpecial: true)
    }

    /// Decodes a sound file's bytes (any format libsndfile reads) to 16 kHz mono.
    /// - Throws: `ServerError.badRequest` when they are not audio, `.tooLarge` beyond `maxSeconds`.
    public static func samples(ofFile bytes: [UInt8], maxSeconds: Double) throws(ServerError) -> [Float] {
        let buffer: PCMBuffer
        do {
            buffer = try SoundFile.decode(bytes, name: "the uploaded file")
        } catch {
            throw .badRequest("the file is not audio this server reads: \(error.description)")
        }
        guard buffer.duration <= maxSeconds else {
            throw .tooLarge("the audio lasts \(Int(buffer.duration)) s; the limit is \(Int(maxSeconds)) s")
        }
        return try toWhisperInput(buffer)
    }

    /// Mono at 16 kHz.
    static func toWhisperInput(_ buffer: PCMBuffer) throws(ServerError) -> [Float] {
        guard !buffer.isEmpty else { throw .badRequest("the audio holds no samples") }
        let mono = buffer.mixedToMono()
        if mono.sampleRate == LogMelSpectrogram.sampleRate { return mono.samples }
        do {
            return try mono.resampled(to: LogMelSpectrogram.sampleRate).samples
        } catch {
            throw .badRequest("cannot convert the audio to 16 kHz: \(error.description)")
        }
    }

    // MARK: - Text to speech

    /// The voice named `name` (nil: the default), loaded on first use.
    /// - Throws: `ServerError.notFound` for a voice not announced, `.internalFailure` when it cannot load.
    public func voice(named name: String?) async throws(ServerError) -> LoadedVoice {
        try await registry.voice(named: name ?? defaultVoice)
    }

    /// Resolves a speech request and waits for its voice: the job holds the voice's slot until it is released
    /// (or goes away), so a streamed response keeps the voice for as long as it streams.
    /// - Parameters:
    ///   - speed: OpenAI's `speed` (0.25…4): the voice's length scale is divided by it.
    /// - Throws: `ServerError`: `.badRequest` for empty text or a bad speaker or speed, `.notFound` for an unknown
    ///   voice, `.busy` when the voice's queue is full.
    public func prepareSpeech(text: String, voice name: String?, speaker: String? = nil, speed: Double? = nil)
        async throws -> SpeechJob
    {
        guard text.contains(where: { !$0.isWhitespace }) else { throw ServerError.badRequest("the text is empty") }
        let voice = try await voice(named: name)
        var options = voice.synthesizer.defaultOptions
        options.parameters.speakerID = try Self.speakerID(speaker, in: voice)
        if let speed {
            guard speed.isFinite, (0.25...4).contains(speed) else {
                throw ServerError.badRequest("speed must be between 0.25 and 4, got \(speed)")
            }
            options.parameters.lengthScale /= Float(speed)
        }
        let slot = try await voice.queue.acquire()
        return SpeechJob(voice: voice, text: text, options: options, slot: slot)
    }

    /// The id of `speaker` (a name or an id) in `voice`; nil keeps the voice's default speaker.
    /// - Throws: `ServerError.badRequest` for a speaker the voice lacks.
    public static func speakerID(_ speaker: String?, in voice: LoadedVoice) throws(ServerError) -> Int? {
        guard let speaker, !speaker.isEmpty else { return nil }
        let count = voice.synthesizer.voice.architecture.speakerCount
        if let index = voice.description.speakers.firstIndex(of: speaker) {
            return voice.synthesizer.voice.config.speakerIDMap[speaker] ?? index
        }
        if let id = Int(speaker), id >= 0, id < count { return id }
        throw .badRequest("the voice \(voice.description.name) has no speaker '\(speaker)'")
    }

    // MARK: - Helpers

    /// Language codes of the STT model: its language tokens (`<|en|>`), English for English-only models.
    static func languages(of transcriber: WhisperTranscriber) -> [String] {
        guard transcriber.tokenizer.isMultilingual else { return ["en"] }
        let codes = transcriber.config.languageIDs.compactMap { id -> String? in
            guard id >= 0, id < transcriber.tokenizer.tokens.count else { return nil }
            let token = transcriber.tokenizer.tokens[id]
            guard token.hasPrefix("<|"), token.hasSuffix("|>") else { return nil }
            return String(token.dropFirst(2).dropLast(2))
        }
        return codes.isEmpty ? ["en"] : codes
    }

    /// `en_US` → `en`: Whisper takes ISO-639-1 codes.
    static func languageCode(_ language: String) -> String {
        String(language.split(whereSeparator: { $0 == "_" || $0 == "-" }).first ?? Substring(language)).lowercased()
    }
}

/// Runs blocking model work on a Dispatch thread, away from Swift's cooperative pool (which the network and
/// every other request need while a model computes for seconds).
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// The voices: announced ones by name, loaded ones with their queues; each voice loads once, however many
/// requests ask for it at the same time.
actor VoiceRegistry {
    private let voices: [String: VoiceDescription]
    private var loaded: [String: Task<LoadedVoice, any Error>] = [:]
    private let engine: ComputeEngine
    private let queueDepth: Int
    private let retryAfter: Int
    private let logger: Logger

    init(
        voices: [VoiceDescription], preloaded: (VoiceDescription, SpeechSynthesizer)?, engine: ComputeEngine,
        queueDepth: Int, retryAfter: Int, logger: Logger
    ) {
        self.voices = Dictionary(voices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.engine = engine
        self.queueDepth = queueDepth
        self.retryAfter = retryAfter
        self.logger = logger
        if let (description, synthesizer) = preloaded {
            let voice = LoadedVoice(
                description: description, synthesizer: synthesizer,
                queue: ModelQueue(name: description.name, depth: queueDepth, retryAfter: retryAfter))
            loaded[description.name] = Task { voice }
        }
    }

    func voice(named name: String) async throws(ServerError) -> LoadedVoice {
        guard let description = voices[name] else {
            throw .notFound("no voice '\(name)' (voices: \(voices.keys.sorted().joined(separator: ", ")))")
        }
        let task: Task<LoadedVoice, any Error>
        if let existing = loaded[name] {
            task = existing
        } else {
            let (engine, depth, retry, logger) = (engine, queueDepth, retryAfter, logger)
            task = Task {
                logger.info("loading voice", metadata: ["voice": "\(name)"])
                let synthesizer = try await Self.load(description, engine: engine)
                return LoadedVoice(
                    description: description, synthesizer: synthesizer,
                    queue: ModelQueue(name: name, depth: depth, retryAfter: retry))
            }
            loaded[name] = task
        }
        do {
            return try await task.value
        } catch {
            loaded[name] = nil  // a later request may try again (the file may have been fixed)
            throw .internalFailure("cannot load the voice \(name): \(error)")
        }
    }

    /// Loads a voice and starts its synthesizer's stages.
    static func load(_ description: VoiceDescription, engine: ComputeEngine) async throws -> SpeechSynthesizer {
        try await blocking {
            let voice = try PiperVoice(modelPath: description.modelPath, engine: engine)
            let phonemes = try PiperPhonemeConfig.load(from: URL(fileURLWithPath: description.modelPath + ".json"))
            return try SpeechSynthesizer(voice: voice, phonemeConfig: phonemes)
        }
    }
}
