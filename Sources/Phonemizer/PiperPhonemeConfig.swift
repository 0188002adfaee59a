// PiperPhonemeConfig: the part of a Piper voice's .onnx.json that turns text into phoneme ids.
//
// Field names and defaults follow piper1-gpl's src/piper/config.py (`PiperConfig.from_dict`) and piper-phonemize's
// `phoneme_map` (C++ only; piper1-gpl's Python ignores it).
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/config.py

import Foundation

/// A voice's phonemization settings, decoded straight from its `.onnx.json` (other keys are ignored).
public struct PiperPhonemeConfig: Sendable, Equatable, Codable {
    /// The espeak-ng voice to phonemize with (`espeak.voice`, for example `en-us`).
    public var espeakVoice: String
    /// How text becomes phonemes (`phoneme_type`): `espeak` (the default) or `text` (the text's own code points).
    public var phonemeType: String
    /// Phoneme to ids (`phoneme_id_map`); must hold `^` (start), `_` (pad) and `$` (end).
    public var phonemeIDMap: [String: [Int]]
    /// Phoneme to replacement phonemes, applied to espeak-ng's phonemes before the id lookup (`phoneme_map`).
    public var phonemeMap: [String: [String]]
    /// Runs of phonemes merged into one phoneme before the id lookup (`vowel_clusters`, piper1-gpl).
    public var vowelClusters: [[String]]

    /// Makes a configuration; `phonemeIDMap` is usually a voice's own.
    public init(
        espeakVoice: String, phonemeIDMap: [String: [Int]], phonemeType: String = "espeak",
        phonemeMap: [String: [String]] = [:], vowelClusters: [[String]] = []
    ) {
        self.espeakVoice = espeakVoice
        self.phonemeType = phonemeType
        self.phonemeIDMap = phonemeIDMap
        self.phonemeMap = phonemeMap
        self.vowelClusters = vowelClusters
    }

    /// Reads the configuration from a voice's `.onnx.json`.
    public static func load(from url: URL) throws(PhonemizerError) -> PiperPhonemeConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PhonemizerError.invalidVoiceConfig("cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(PiperPhonemeConfig.self, from: data)
        } catch {
            throw PhonemizerError.invalidVoiceConfig("\(url.path) is not a Piper voice configuration: \(error)")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case espeak
        case phonemeType = "phoneme_type"
        case phonemeIDMap = "phoneme_id_map"
        case phonemeMap = "phoneme_map"
        case vowelClusters = "vowel_clusters"
    }

    private enum EspeakKeys: String, CodingKey {
        case voice
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let espeak = try container.nestedContainer(keyedBy: EspeakKeys.self, forKey: .espeak)
        espeakVoice = try espeak.decode(String.self, forKey: .voice)
        phonemeType = try container.decodeIfPresent(String.self, forKey: .phonemeType) ?? "espeak"
        phonemeIDMap = try container.decode([String: [Int]].self, forKey: .phonemeIDMap)
        phonemeMap = try container.decodeIfPresent([String: [String]].self, forKey: .phonemeMap) ?? [:]
        vowelClusters = try container.decodeIfPresent([[String]].self, forKey: .vowelClusters) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var espeak = container.nestedContainer(keyedBy: EspeakKeys.self, forKey: .espeak)
        try espeak.encode(espeakVoice, forKey: .voice)
        try container.encode(phonemeType, forKey: .phonemeType)
        try container.encode(phonemeIDMap, forKey: .phonemeIDMap)
        try container.encode(phonemeMap, forKey: .phonemeMap)
        try container.encode(vowelClusters, forKey: .vowelClusters)
    }
}
