// PipelineModels: the models and intents a pipeline runs, found through ModelStore and loaded once.

import Compute
import Foundation
import LanguageModel
import Logging
import ModelStore
import Phonemizer
import PiperTTS
import VoiceActivity
import WhisperSTT

/// Everything loaded from disk that a pipeline needs: voice, Whisper, the voice-activity model, the intents and the
/// in-process language model.
public struct PipelineModels: Sendable {
    /// Whisper, on its own thread.
    public let transcription: TranscriptionStage
    /// The Piper voice's streaming synthesizer.
    public let synthesizer: SpeechSynthesizer
    /// How the voice speaks.
    public let speechOptions: SpeechOptions
    /// Silero VAD, when installed and chosen; nil uses the energy gate.
    public let vad: SileroVAD?
    /// The built-in intents.
    public let intents: IntentMatcher
    /// The in-process language model, when enabled and no server URL replaces it; other faces (the HTTP chat API)
    /// make their own sessions on its weights.
    public let languageModel: LoadedLanguageModel?
    /// The assistant's conversation on `languageModel`.
    public let chatSession: LanguageModelSession?
    /// Names of what was loaded, for the logs and `harkd --check`.
    public let summary: [String]
    /// Where the models came from, so that other users of them (harkd's servers) share them instead of loading
    /// them again.
    public let origin: Origin

    /// The names and files of the loaded models, and the engine they run on.
    public struct Origin: Sendable {
        /// The voice's catalog name, or its file name without `.onnx`.
        public var voiceName: String
        /// The voice's `.onnx` file.
        public var voicePath: String
        /// The Whisper model's catalog name, or its folder's name.
        public var sttName: String
        /// The Whisper model's CTranslate2 folder.
        public var sttDirectory: URL
        /// Where the models run; voices loaded later should run there too.
        public var engine: ComputeEngine

        public init(voiceName: String, voicePath: String, sttName: String, sttDirectory: URL, engine: ComputeEngine) {
            self.voiceName = voiceName
            self.voicePath = voicePath
            self.sttName = sttName
            self.sttDirectory = sttDirectory
            self.engine = engine
        }
    }

    /// Assembles loaded parts.
    public init(
        transcription: TranscriptionStage, synthesizer: SpeechSynthesizer, speechOptions: SpeechOptions,
        vad: SileroVAD?, intents: IntentMatcher, languageModel: LoadedLanguageModel? = nil,
        chatSession: LanguageModelSession? = nil, summary: [String] = [], origin: Origin
    ) {
        self.transcription = transcription
        self.synthesizer = synthesizer
        self.speechOptions = speechOptions
        self.vad = vad
        self.intents = intents
        self.languageModel = languageModel
        self.chatSession = chatSession
        self.summary = summary
        self.origin = origin
    }

    /// A fresh speech detector for one capture stream.
    public func makeDetector() -> any SpeechDetector {
        if let vad { return SileroSpeechDetector(model: vad) }
        return EnergySpeechDetector()
    }

    /// Loads what `configuration` names: the voice and the Whisper model (catalog names or paths, defaults from
    /// the catalogs), Silero VAD when installed, the intents file, and the in-process language model (unless it is
    /// off or a server URL replaces it; the catalog's default is skipped with a warning when not installed).
    /// - Throws: `PipelineError` `.modelUnavailable` naming the model and why, `.invalidIntents`.
    public static func load(_ configuration: PipelineConfiguration, store modelStore: ModelStore? = nil)
        throws(PipelineError)
        -> PipelineModels
    {
        let logger = Logger(label: "hark.models")
        let intents = try IntentMatcher(path: configuration.intentsFile)
        func unavailable(_ what: String, _ error: any Error) -> PipelineError {
            PipelineError(.modelUnavailable, "\(what): \(error)")
        }
        let engine: ComputeEngine
        do {
            engine = try ComputeEngine(backendNamed: configuration.backend, threads: configuration.threads)
        } catch {
            throw unavailable("backend \(configuration.backend)", error)
        }
        let store: ModelStore
        do {
            store = try modelStore ?? ModelStore()
        } catch {
            throw unavailable("cannot open the model store", error)
        }
        var summary = ["backend \(engine.backend.name) for the Piper decoder, Whisper and the VAD"]

        // The voice: a catalog name, or a .onnx file with its .onnx.json beside it (as `speak -m`).
        let synthesizer: SpeechSynthesizer
        var options: SpeechOptions
        let voicePath: String
        let voiceName: String
        do {
            if let voice = configuration.voice, voice.hasSuffix(".onnx"), FileManager.default.fileExists(atPath: voice)
            {
                voicePath = voice
                voiceName = URL(fileURLWithPath: voice).deletingPathExtension().lastPathComponent
            } else {
                let resolved = try store.resolve(configuration.voice, kind: .voice)
                (voicePath, voiceName) = (resolved.location.path, resolved.name)
            }
            let configPath = voicePath + ".json"
            let voice = try PiperVoice(modelPath: voicePath, configPath: configPath, engine: engine)
            let phonemeConfig = try PiperPhonemeConfig.load(from: URL(fileURLWithPath: configPath))
            synthesizer = try SpeechSynthesizer(voice: voice, phonemeConfig: phonemeConfig)
            var parameters = voice.defaultParameters
            if let lengthScale = configuration.lengthScale { parameters.lengthScale = lengthScale }
            options = SpeechOptions(parameters: parameters, sentenceSilence: 0.2)
            summary.append("voice \(voicePath) (\(voice.sampleRate) Hz)")
        } catch {
            throw unavailable("voice '\(configuration.voice ?? "default")'", error)
        }
        options.volume = 1

        // Silero VAD when chosen and installed; the energy gate otherwise.
        var vad: SileroVAD?
        if configuration.vad.engine == "silero" {
            if let model = try? store.defaultModel(.vad) {
                do {
                    vad = try SileroVAD(path: model.location.path, engine: engine)
                    summary.append("VAD Silero \(model.location.path)")
                } catch {
                    throw unavailable("Silero VAD \(model.location.path)", error)
                }
            } else {
                logger.warning("the Silero VAD model is not installed (scripts/fetch-models): using the energy gate")
                summary.append("VAD energy gate (Silero not installed)")
            }
        } else {
            summary.append("VAD energy gate")
        }

        let transcription: TranscriptionStage
        let stt: ResolvedModel
        do {
            stt = try store.resolve(configuration.sttModel, kind: .stt)
            let transcriber = try WhisperTranscriber(directory: stt.location, engine: engine, detector: vad)
            transcription = try TranscriptionStage(transcriber: transcriber)
            summary.append("Whisper \(stt.location.path)")
        } catch let error as PipelineError {
            throw error
        } catch {
            throw unavailable("Whisper model '\(configuration.sttModel ?? "default")'", error)
        }

        let languageModel = try loadLanguageModel(configuration, store: store, engine: engine, logger: logger)
        if let languageModel {
            summary.append(
                "LLM \(languageModel.name) \(languageModel.path) (context \(languageModel.contextLength), "
                    + "backend \(configuration.llm.backend))")
        } else if !configuration.llm.enabled {
            summary.append("LLM off")
        } else if let url = configuration.llm.url, !url.isEmpty {
            summary.append("LLM server \(url)")
        } else {
            summary.append("LLM none: the default model is not installed (scripts/fetch-models)")
        }
        return PipelineModels(
            transcription: transcription, synthesizer: synthesizer, speechOptions: options, vad: vad,
            intents: intents, languageModel: languageModel, chatSession: try languageModel?.makeSession(),
            summary: summary,
            origin: Origin(
                voiceName: voiceName, voicePath: voicePath, sttName: stt.name, sttDirectory: stt.location,
                engine: engine))
    }

    /// The in-process model `configuration.llm` asks for; nil when the LLM is off, served by a URL, or the default
    /// model is not installed. It shares `engine` (the other models') when it asks for the same backend, rather than
    /// opening that backend a second time.
    private static func loadLanguageModel(
        _ configuration: PipelineConfiguration, store: ModelStore, engine shared: ComputeEngine, logger: Logger
    ) throws(PipelineError) -> LoadedLanguageModel? {
        let llm = configuration.llm
        guard llm.enabled, llm.url?.isEmpty ?? true else { return nil }
        let resolved: ResolvedModel
        do {
            resolved = try store.resolve(llm.localModel, kind: .llm)
        } catch {
            if llm.localModel == nil {
                let why = "the default language model is not installed (scripts/fetch-models): \(error)"
                logger.warning("\(why); other questions get the 'cannot help' message")
                return nil
            }
            throw PipelineError(.modelUnavailable, "language model '\(llm.localModel ?? "default")': \(error)")
        }
        var engine = shared
        if llm.backend != shared.backend.name {
            do {
                engine = try ComputeEngine(backendNamed: llm.backend, threads: configuration.threads)
            } catch {
                throw PipelineError(.modelUnavailable, "language model backend: \(error)")
            }
        }
        return try LoadedLanguageModel(
            path: resolved.location.path, name: resolved.name, engine: engine, contextLength: llm.contextLength)
    }
}
