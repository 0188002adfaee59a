// PipelineConfiguration: everything harkd reads from its JSON config file. Every key is optional in the file; a
// missing key keeps its default, so a config file only says what differs.

import Compute
import Foundation

/// The assistant's settings, as read from a JSON file (`PipelineConfiguration.load(from:)`) and overridden on the
/// command line.
public struct PipelineConfiguration: Codable, Sendable, Equatable {
    /// Piper voice: a catalog name or a `.onnx` path (nil: the catalog's default).
    public var voice: String?
    /// Whisper model: a catalog name or a CTranslate2 folder (nil: the catalog's default).
    public var sttModel: String?
    /// ALSA capture device name.
    public var captureDevice: String = "default"
    /// ALSA playback device name.
    public var playbackDevice: String = "default"
    /// Extra ALSA configuration (asoundrc syntax) in this file, for both devices only (e.g. file-backed devices).
    public var alsaConfigFile: String?
    /// Voice activity detection and endpointing.
    public var vad = VADSettings()
    /// When set, a request counts only when its transcript starts with this phrase (e.g. "hey hark").
    public var wakePhrase: String?
    /// Whether speech from the user stops Hark speaking (turn off where the speaker bleeds into the microphone).
    public var bargeIn = true
    /// The language model behind questions no built-in intent answers.
    public var llm = LLMSettings()
    /// The intents file (nil: the one shipped in the SpeechPipeline resources).
    public var intentsFile: String?
    /// CPU threads for the models (nil: all cores).
    public var threads: Int?
    /// The compute backend of the Piper decoder, Whisper and the VAD (`cpu`, `rknpu`; the Piper encoder stays on the
    /// CPU by design, and each op the backend declines runs there). The language model's is `llm.backend`.
    public var backend = "cpu"
    /// Speaking rate: above 1 speaks slower (nil: the voice's own).
    public var lengthScale: Float?
    /// Runs capture and playback against each other by sample counts instead of letting each device pace itself:
    /// for ALSA `file` devices, which are not paced in real time (tests, simulations). Processing then takes no
    /// time in the audio's timeline.
    public var virtualTime = false
    /// The network faces: the Wyoming server and the OpenAI-compatible HTTP API.
    public var servers = ServerSettings()

    /// The defaults.
    public init() {}

    /// Voice activity detection and endpointing, in seconds and probabilities.
    public struct VADSettings: Codable, Sendable, Equatable {
        /// "silero" (the Silero model when installed, else the energy gate) or "energy".
        public var engine = "silero"
        /// Speech probability at or above which a window is speech.
        public var threshold: Float = 0.5
        /// Speech must last this long before an utterance starts (and barge-in stops playback).
        public var minSpeech = 0.1
        /// Audio kept from before the start of speech.
        public var preRoll = 0.3
        /// Silence that ends an utterance.
        public var silence = 0.7
        /// The longest utterance; longer speech is cut here.
        public var maxUtterance = 15.0
        /// Start transcribing when the user pauses (about 0.2 s into the silence), so that the transcript is ready
        /// soon after the silence that ends the utterance; a pause that speech follows wastes that transcription.
        public var transcribeAtPause = true

        public init() {}
    }

    /// The network faces, which serve the models the voice loop loaded (harkd reads the addresses; SpeechServers
    /// parses them).
    public struct ServerSettings: Codable, Sendable, Equatable {
        /// Wyoming URI, `tcp://HOST:PORT`, or `off`. 10500 is clear of the ports Wyoming's own services and
        /// satellites use.
        public var wyoming = "tcp://127.0.0.1:10500"
        /// The HTTP API's `HOST:PORT`, or `off`.
        public var http = "127.0.0.1:8080"
        /// The Bearer token the HTTP API requires (nil: none).
        public var apiKey: String?
        /// Only the servers: no capture or playback device is opened, the voice loop does not run.
        public var noAudio = false

        public init() {}
    }

    /// The language model: Hark's own runtime in-process (the default), or an OpenAI-compatible chat server
    /// (llama-server, Ollama, …) when `url` is set.
    public struct LLMSettings: Codable, Sendable, Equatable {
        /// Whether other questions go to a language model at all (false: they get the "cannot help" message).
        public var enabled = true
        /// The in-process model: a catalog name or a `.gguf` file (nil: the catalog's default).
        public var localModel: String?
        /// Positions of the in-process model's context (prompt and answer together).
        public var contextLength = 2048
        /// The compute backend of the in-process model (`cpu`, `rknpu`).
        public var backend = "cpu"
        /// An OpenAI-compatible server's base URL, used instead of the in-process model; `/v1/chat/completions` is
        /// appended unless the URL already ends with it. Nil or empty: the in-process model.
        public var url: String?
        /// The model name sent to the server.
        public var model = "default"
        /// Seconds the whole answer may take before Hark gives up.
        public var timeout = 30.0
        /// Earlier exchanges (user + assistant) sent as memory.
        public var memoryTurns = 4
        /// Longest answer, in tokens.
        public var maxTokens = 200
        /// The system prompt: short, spoken-style answers.
        public var systemPrompt =
            "You are Hark, a voice assistant. Your answers are spoken aloud: reply in one to three short, plain "
            + "sentences, with no lists, markdown, emoji or code."
        /// Sent as a bearer token when set.
        public var apiKey: String?

        public init() {}
    }

    /// Reads a configuration file; keys it lacks keep their defaults.
    /// - Throws: `PipelineError` `.invalidConfiguration` naming the file and what is wrong.
    public static func load(from path: String) throws(PipelineError) -> PipelineConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PipelineError(.invalidConfiguration, "cannot read the config file \(path)", subject: path)
        }
        do {
            let config = try JSONDecoder().decode(PipelineConfiguration.self, from: data)
            try config.validate()
            return config
        } catch let error as PipelineError {
            throw PipelineError(.invalidConfiguration, "\(path): \(error.message)", subject: path)
        } catch {
            throw PipelineError(
                .invalidConfiguration, "\(path) is not a valid harkd config: \(Self.explain(error, in: data))",
                subject: path)
        }
    }

    /// Throws `PipelineError` `.invalidConfiguration` naming the first setting out of range.
    public func validate() throws(PipelineError) {
        func check(_ ok: Bool, _ message: String) throws(PipelineError) {
            if !ok { throw PipelineError(.invalidConfiguration, message) }
        }
        try check(["silero", "energy"].contains(vad.engine), "vad.engine must be \"silero\" or \"energy\"")
        try check(vad.threshold > 0 && vad.threshold < 1, "vad.threshold must be between 0 and 1")
        try check(vad.minSpeech >= 0 && vad.minSpeech <= 2, "vad.minSpeech must be 0 to 2 seconds")
        try check(vad.preRoll >= 0 && vad.preRoll <= 2, "vad.preRoll must be 0 to 2 seconds")
        try check(vad.silence >= 0.1 && vad.silence <= 10, "vad.silence must be 0.1 to 10 seconds")
        try check(vad.maxUtterance >= 1 && vad.maxUtterance <= 30, "vad.maxUtterance must be 1 to 30 seconds")
        try check(llm.timeout > 0, "llm.timeout must be more than 0 seconds")
        try check(llm.memoryTurns >= 0, "llm.memoryTurns must be 0 or more")
        try check(llm.maxTokens > 0, "llm.maxTokens must be more than 0")
        try check(llm.contextLength >= 64, "llm.contextLength must be at least 64")
        try check(
            ComputeEngine.backendNames.contains(backend),
            "backend must be one of \(ComputeEngine.backendNames.joined(separator: ", "))")
        try check(
            ComputeEngine.backendNames.contains(llm.backend),
            "llm.backend must be one of \(ComputeEngine.backendNames.joined(separator: ", "))")
        if let threads { try check(threads >= 1, "threads must be at least 1") }
        if let lengthScale { try check(lengthScale > 0 && lengthScale.isFinite, "lengthScale must be more than 0") }
        if let url = llm.url, !url.isEmpty {
            try check(
                URL(string: url)?.scheme.map { ["http", "https"].contains($0) } == true,
                "llm.url must be an http:// or https:// URL, got '\(url)'")
        }
        if let wakePhrase {
            try check(!IntentMatcher.normalize(wakePhrase).isEmpty, "wakePhrase has no words")
        }
        // The address forms are checked where they are parsed (harkd, with SpeechServers' ListenAddress).
        try check(!servers.wyoming.isEmpty, "servers.wyoming must be tcp://HOST:PORT or \"off\"")
        try check(!servers.http.isEmpty, "servers.http must be HOST:PORT or \"off\"")
        if let apiKey = servers.apiKey { try check(!apiKey.isEmpty, "servers.apiKey must not be empty") }
        try check(
            !servers.noAudio || servers.wyoming != "off" || servers.http != "off",
            "servers.noAudio with both servers off leaves nothing to run")
    }

    /// A decoding error as a short sentence naming the key (or, for text that is not JSON, the line).
    static func explain(_ error: any Error, in data: Data) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, let place = syntaxError(in: data) {
            return "not valid JSON: \(place)"
        }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? "" : " at '\(keys)'"
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "missing \(type) value\(path(context))"
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)'\(path(context))"
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(error)"
        }
    }

    /// Where text that does not parse as JSON goes wrong, as "line L, column C" when the parser says where:
    /// JSONDecoder does not, JSONSerialization gives a character offset.
    static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
            return nil
        } catch {
            let said = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
            guard let range = said.range(of: #"around character \d+"#, options: .regularExpression),
                let offset = Int(said[range].split(separator: " ").last ?? ""), offset <= data.count
            else { return said.isEmpty ? nil : said.lowercased().trimmingCharacters(in: ["."]) }
            let before = data.prefix(offset)
            let line = before.count(where: { $0 == UInt8(ascii: "\n") }) + 1
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex
            let what = said[..<range.lowerBound].trimmingCharacters(in: .whitespaces).lowercased()
            return "\(what.isEmpty ? "error" : what) at line \(line), column \(offset - lineStart + 1)"
        }
    }
}

// Decoding with defaults for missing keys (synthesized Codable would require every key).
extension PipelineConfiguration {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PipelineConfiguration()
        voice = try c.decodeIfPresent(String.self, forKey: .voice) ?? d.voice
        sttModel = try c.decodeIfPresent(String.self, forKey: .sttModel) ?? d.sttModel
        captureDevice = try c.decodeIfPresent(String.self, forKey: .captureDevice) ?? d.captureDevice
        playbackDevice = try c.decodeIfPresent(String.self, forKey: .playbackDevice) ?? d.playbackDevice
        alsaConfigFile = try c.decodeIfPresent(String.self, forKey: .alsaConfigFile) ?? d.alsaConfigFile
        vad = try c.decodeIfPresent(VADSettings.self, forKey: .vad) ?? d.vad
        wakePhrase = try c.decodeIfPresent(String.self, forKey: .wakePhrase) ?? d.wakePhrase
        bargeIn = try c.decodeIfPresent(Bool.self, forKey: .bargeIn) ?? d.bargeIn
        llm = try c.decodeIfPresent(LLMSettings.self, forKey: .llm) ?? d.llm
        intentsFile = try c.decodeIfPresent(String.self, forKey: .intentsFile) ?? d.intentsFile
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        backend = try c.decodeIfPresent(String.self, forKey: .backend) ?? d.backend
        lengthScale = try c.decodeIfPresent(Float.self, forKey: .lengthScale) ?? d.lengthScale
        virtualTime = try c.decodeIfPresent(Bool.self, forKey: .virtualTime) ?? d.virtualTime
        servers = try c.decodeIfPresent(ServerSettings.self, forKey: .servers) ?? d.servers
    }
}

extension PipelineConfiguration.ServerSettings {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        wyoming = try c.decodeIfPresent(String.self, forKey: .wyoming) ?? d.wyoming
        http = try c.decodeIfPresent(String.self, forKey: .http) ?? d.http
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey) ?? d.apiKey
        noAudio = try c.decodeIfPresent(Bool.self, forKey: .noAudio) ?? d.noAudio
    }
}

extension PipelineConfiguration.VADSettings {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        engine = try c.decodeIfPresent(String.self, forKey: .engine) ?? d.engine
        threshold = try c.decodeIfPresent(Float.self, forKey: .threshold) ?? d.threshold
        minSpeech = try c.decodeIfPresent(Double.self, forKey: .minSpeech) ?? d.minSpeech
        preRoll = try c.decodeIfPresent(Double.self, forKey: .preRoll) ?? d.preRoll
        silence = try c.decodeIfPresent(Double.self, forKey: .silence) ?? d.silence
        maxUtterance = try c.decodeIfPresent(Double.self, forKey: .maxUtterance) ?? d.maxUtterance
        transcribeAtPause = try c.decodeIfPresent(Bool.self, forKey: .transcribeAtPause) ?? d.transcribeAtPause
    }
}

extension PipelineConfiguration.LLMSettings {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        localModel = try c.decodeIfPresent(String.self, forKey: .localModel) ?? d.localModel
        contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength) ?? d.contextLength
        backend = try c.decodeIfPresent(String.self, forKey: .backend) ?? d.backend
        url = try c.decodeIfPresent(String.self, forKey: .url) ?? d.url
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? d.model
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? d.timeout
        memoryTurns = try c.decodeIfPresent(Int.self, forKey: .memoryTurns) ?? d.memoryTurns
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? d.maxTokens
        systemPrompt = try c.decodeIfPresent(String.self, forKey: .systemPrompt) ?? d.systemPrompt
        apiKey = try c.decodeIfPresent(String.self, forKey: .apiKey) ?? d.apiKey
    }
}
