// The `config.json` beside a CTranslate2 Whisper model (CTranslate2's WhisperConfig): which tokens the
// decoder suppresses, the language tokens, and the cross-attention heads used for word alignment.

import Foundation

/// A CTranslate2 Whisper model's `config.json`.
public struct WhisperConfig: Codable, Sendable, Equatable {
    /// Tokens never sampled when `suppress_tokens` is [-1] (OpenAI's non-speech symbols and the specials).
    public var suppressIDs: [Int]
    /// Tokens suppressed at the first sampled step (`suppress_blank`: " " and end of text).
    public var suppressIDsBegin: [Int]
    /// Language tokens (empty or unused for English-only models).
    public var languageIDs: [Int]
    /// (layer, head) pairs whose cross-attention aligns words with audio.
    public var alignmentHeads: [[Int]]

    enum CodingKeys: String, CodingKey {
        case suppressIDs = "suppress_ids"
        case suppressIDsBegin = "suppress_ids_begin"
        case languageIDs = "lang_ids"
        case alignmentHeads = "alignment_heads"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        suppressIDs = try c.decodeIfPresent([Int].self, forKey: .suppressIDs) ?? []
        suppressIDsBegin = try c.decodeIfPresent([Int].self, forKey: .suppressIDsBegin) ?? []
        languageIDs = try c.decodeIfPresent([Int].self, forKey: .languageIDs) ?? []
        alignmentHeads = try c.decodeIfPresent([[Int]].self, forKey: .alignmentHeads) ?? []
    }

    /// Reads `config.json`; a missing or malformed file is a `WhisperError` naming it.
    public static func load(from url: URL) throws -> WhisperConfig {
        do {
            return try JSONDecoder().decode(WhisperConfig.self, from: Data(contentsOf: url))
        } catch {
            throw WhisperError("\(url.path): not a readable Whisper config.json (\(error))")
        }
    }
}
