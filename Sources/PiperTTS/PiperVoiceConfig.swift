// The `.onnx.json` beside a Piper voice, as rhasspy/piper's `src/cpp/piper.cpp` (parse*Config) and
// OHF-Voice/piper1-gpl's `src/piper/config.py` read it (research/piper.md §1.5). Every key but the phoneme id map
// is optional here, with Piper's defaults; the architecture is never read from this file but from the weights.

import Foundation

/// A Piper voice's `.onnx.json`.
public struct PiperVoiceConfig: Codable, Sendable, Equatable {
    /// The `audio` block.
    public struct Audio: Codable, Sendable, Equatable {
        /// Output sample rate in Hz.
        public var sampleRate: Int
        /// `x_low`, `low`, `medium` or `high` when the file says (a label, not the architecture).
        public var quality: String?

        enum CodingKeys: String, CodingKey {
            case sampleRate = "sample_rate"
            case quality
        }

        /// An audio block (Piper's defaults: 22050 Hz, no label).
        public init(sampleRate: Int = 22050, quality: String? = nil) {
            self.sampleRate = sampleRate
            self.quality = quality
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate) ?? 22050
            quality = try c.decodeIfPresent(String.self, forKey: .quality)
        }
    }

    /// The `espeak` block.
    public struct Espeak: Codable, Sendable, Equatable {
        /// espeak-ng voice name, e.g. `en-us`.
        public var voice: String

        /// An espeak block (Piper's default voice `en-us`).
        public init(voice: String = "en-us") { self.voice = voice }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            voice = try c.decodeIfPresent(String.self, forKey: .voice) ?? "en-us"
        }
    }

    /// The `inference` block: the voice's default scales.
    public struct Inference: Codable, Sendable, Equatable {
        /// Prior noise (`scales[0]`); Piper's default 0.667.
        public var noiseScale: Float
        /// Duration multiplier (`scales[1]`); above 1 speaks slower. Default 1.
        public var lengthScale: Float
        /// Duration-predictor noise (`scales[2]`); default 0.8.
        public var noiseW: Float
        /// Seconds of silence after a phoneme codepoint (C++ Piper only).
        public var phonemeSilence: [String: Float]?

        enum CodingKeys: String, CodingKey {
            case noiseScale = "noise_scale"
            case lengthScale = "length_scale"
            case noiseW = "noise_w"
            case phonemeSilence = "phoneme_silence"
        }

        /// An inference block (Piper's defaults 0.667, 1, 0.8).
        public init(noiseScale: Float = 0.667, lengthScale: Float = 1, noiseW: Float = 0.8) {
            self.noiseScale = noiseScale
            self.lengthScale = lengthScale
            self.noiseW = noiseW
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            noiseScale = try c.decodeIfPresent(Float.self, forKey: .noiseScale) ?? 0.667
            lengthScale = try c.decodeIfPresent(Float.self, forKey: .lengthScale) ?? 1
            noiseW = try c.decodeIfPresent(Float.self, forKey: .noiseW) ?? 0.8
            phonemeSilence = try c.decodeIfPresent([String: Float].self, forKey: .phonemeSilence)
        }
    }

    /// Sample rate and quality label.
    public var audio: Audio
    /// The espeak-ng voice that phonemizes for this voice.
    public var espeak: Espeak
    /// Default synthesis scales.
    public var inference: Inference
    /// `espeak` (default), `text`, and in piper1-gpl `pinyin`, `hebrew`, `japanese`.
    public var phonemeType: String
    /// Codepoint → codepoints applied before the id lookup.
    public var phonemeMap: [String: [String]]
    /// Phoneme (one codepoint, or a cluster in piper1-gpl) → ids.
    public var phonemeIDMap: [String: [Int]]
    /// Size of the id vocabulary, when the file says.
    public var symbolCount: Int?
    /// Number of speakers (1 for single-speaker voices).
    public var speakerCount: Int
    /// Speaker name → id.
    public var speakerIDMap: [String: Int]
    /// Speaker used when none is asked for (piper1-gpl).
    public var defaultSpeakerID: Int?
    /// Samples per frame, when the file says (piper1-gpl).
    public var hopLength: Int?
    /// Version of Piper that trained or exported the voice.
    public var piperVersion: String?
    /// Dataset name, e.g. `lessac`.
    public var dataset: String?
    /// Language code, e.g. `en_US`, from the `language` block.
    public var languageCode: String?

    enum CodingKeys: String, CodingKey {
        case audio, espeak, inference, dataset, language
        case phonemeType = "phoneme_type"
        case phonemeMap = "phoneme_map"
        case phonemeIDMap = "phoneme_id_map"
        case symbolCount = "num_symbols"
        case speakerCount = "num_speakers"
        case speakerIDMap = "speaker_id_map"
        case defaultSpeakerID = "default_speaker_id"
        case hopLength = "hop_length"
        case piperVersion = "piper_version"
    }

    private struct Language: Codable {
        var code: String?
    }

    /// A config in memory (tests, tools); keys not given take Piper's defaults.
    public init(
        audio: Audio = Audio(), espeak: Espeak = Espeak(), inference: Inference = Inference(),
        phonemeIDMap: [String: [Int]], speakerCount: Int = 1, speakerIDMap: [String: Int] = [:]
    ) {
        self.audio = audio
        self.espeak = espeak
        self.inference = inference
        self.phonemeType = "espeak"
        self.phonemeMap = [:]
        self.phonemeIDMap = phonemeIDMap
        self.speakerCount = speakerCount
        self.speakerIDMap = speakerIDMap
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        audio = try c.decodeIfPresent(Audio.self, forKey: .audio) ?? Audio()
        espeak = try c.decodeIfPresent(Espeak.self, forKey: .espeak) ?? Espeak()
        inference = try c.decodeIfPresent(Inference.self, forKey: .inference) ?? Inference()
        phonemeType = try c.decodeIfPresent(String.self, forKey: .phonemeType) ?? "espeak"
        phonemeMap = try c.decodeIfPresent([String: [String]].self, forKey: .phonemeMap) ?? [:]
        phonemeIDMap = try c.decode([String: [Int]].self, forKey: .phonemeIDMap)
        symbolCount = try c.decodeIfPresent(Int.self, forKey: .symbolCount)
        speakerCount = try c.decodeIfPresent(Int.self, forKey: .speakerCount) ?? 1
        speakerIDMap = try c.decodeIfPresent([String: Int].self, forKey: .speakerIDMap) ?? [:]
        defaultSpeakerID = try c.decodeIfPresent(Int.self, forKey: .defaultSpeakerID)
        hopLength = try c.decodeIfPresent(Int.self, forKey: .hopLength)
        piperVersion = try c.decodeIfPresent(String.self, forKey: .piperVersion)
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset)
        languageCode = try c.decodeIfPresent(Language.self, forKey: .language)?.code
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(audio, forKey: .audio)
        try c.encode(espeak, forKey: .espeak)
        try c.encode(inference, forKey: .inference)
        try c.encode(phonemeType, forKey: .phonemeType)
        try c.encode(phonemeMap, forKey: .phonemeMap)
        try c.encode(phonemeIDMap, forKey: .phonemeIDMap)
        try c.encodeIfPresent(symbolCount, forKey: .symbolCount)
        try c.encode(speakerCount, forKey: .speakerCount)
        try c.encode(speakerIDMap, forKey: .speakerIDMap)
        try c.encodeIfPresent(defaultSpeakerID, forKey: .defaultSpeakerID)
        try c.encodeIfPresent(hopLength, forKey: .hopLength)
        try c.encodeIfPresent(piperVersion, forKey: .piperVersion)
        try c.encodeIfPresent(dataset, forKey: .dataset)
        try c.encodeIfPresent(languageCode.map { Language(code: $0) }, forKey: .language)
    }

    /// Reads a voice's `.onnx.json`.
    /// - Throws: `PiperError` `.unreadableConfig` when the file cannot be read, `.invalidConfig` when it is not a
    ///   Piper config (naming the key that is wrong).
    public static func load(from url: URL) throws(PiperError) -> PiperVoiceConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PiperError(
                .unreadableConfig, "cannot read the voice config (\(error.localizedDescription))", path: url.path)
        }
        do {
            return try JSONDecoder().decode(PiperVoiceConfig.self, from: data)
        } catch {
            throw PiperError(.invalidConfig, "not a Piper voice config: \(Self.describe(error))", path: url.path)
        }
    }

    /// The ids of a phoneme, or nil when the map lacks it.
    public func ids(of phoneme: String) -> [Int]? { phonemeIDMap[phoneme] }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing key '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }
}
