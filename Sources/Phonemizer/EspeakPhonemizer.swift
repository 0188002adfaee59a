// EspeakPhonemizer: text to Piper's phonemes through espeak-ng, sentence by sentence, and on to a voice's ids.
//
// The Swift counterpart of piper1-gpl's `PiperVoice.phonemize` / `phonemes_to_ids` (src/piper/voice.py,
// src/piper/phonemize_espeak.py) for espeak-ng 1.51, which lacks `espeak_TextToPhonemesWithTerminator`: clause
// punctuation and sentence ends come from `ClauseReader`, checked against espeak-ng's own text pointer.
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/voice.py

import Foundation
import Logging

/// One sentence's phonemes as Piper writes them.
public struct PhonemeSentence: Sendable, Hashable {
    /// IPA in NFD: the sentence's clauses joined, each followed by its punctuation (`.` `?` `!`, or `,` `:` `;` and
    /// a space); nothing follows a sentence that ended without punctuation.
    public var phonemes: String

    /// Makes the value.
    public init(phonemes: String) {
        self.phonemes = phonemes
    }
}

/// One sentence ready for a Piper voice: what its model synthesizes in one run.
public struct PiperSentence: Sendable, Hashable {
    /// The sentence's phonemes, one entry per phoneme (normally one code point).
    public var phonemes: [String]
    /// `^ _ (p _)* $` through the voice's map.
    public var ids: [Int]
    /// The phonemes the voice's map has no id for (skipped).
    public var skipped: [String]

    /// Makes the value.
    public init(phonemes: [String], ids: [Int], skipped: [String]) {
        self.phonemes = phonemes
        self.ids = ids
        self.skipped = skipped
    }
}

/// Text to phonemes with espeak-ng, as Piper does it.
///
/// espeak-ng is one global, non-thread-safe C library per process. Every phonemizer goes through a single owner
/// that initialises espeak-ng once (synchronous output, the system's espeak-ng-data) and holds a process-wide lock
/// for each text, selecting the text's voice first; any number of phonemizers, on any tasks, are therefore safe,
/// and a text is never translated with another caller's voice.
///
/// - Important: espeak-ng's initialisation sets the process's `LC_CTYPE` locale to `C.UTF-8` (espeak-ng does this
///   itself, in `espeak_ng_Initialize`).
public actor EspeakPhonemizer {
    /// Whose IPA the phonemizer writes: piper-tts 1.8.0's (the default) or the installed espeak-ng's.
    public nonisolated let style: EspeakIPAStyle

    /// Makes a phonemizer; espeak-ng itself starts on first use.
    public init(style: EspeakIPAStyle = .piperTTS) {
        self.style = style
    }

    /// The sentences of `text` as Piper phonemizes them with the espeak-ng voice `voice` (for example `en-us`).
    ///
    /// A sentence ends at `.` `?` `!` (when espeak-ng takes them as sentence ends: not before a lower-case word,
    /// not inside `$5.50`), at a blank line, and at the end of the text; sentences with no phonemes are left out.
    ///
    /// - Throws: `PhonemizerError` `.emptyText` for empty or whitespace-only text, `.unknownVoice`,
    ///   `.initializationFailed`.
    public func phonemize(_ text: String, voice: String) async throws(PhonemizerError) -> [PhonemeSentence] {
        guard !Self.isBlank(text) else { throw PhonemizerError.emptyText }
        return try espeakSentences(text, voice: voice).sentences.filter { !$0.isEmpty }.map(PhonemeSentence.init)
    }

    /// The sentences of `text` for the voice `config`, each with its phonemes and ids: what piper-tts synthesizes,
    /// one model run per sentence. Raw phonemes in `[[ ... ]]` are taken verbatim, as Piper takes them.
    ///
    /// Text with nothing to pronounce (only punctuation, say) gives no sentences.
    ///
    /// - Throws: `PhonemizerError` `.emptyText` for empty or whitespace-only text, `.invalidVoiceConfig`,
    ///   `.unsupportedPhonemeType`, `.unknownVoice`, `.initializationFailed`.
    public func piperSentences(for text: String, config: PiperPhonemeConfig) async throws(PhonemizerError)
        -> [PiperSentence]
    {
        guard !Self.isBlank(text) else { throw PhonemizerError.emptyText }
        let rules = try PiperPhonemeIDs(config: config)
        let sentences: [[String]]
        switch config.phonemeType {
        case "espeak":
            sentences = try PhonemeBlocks.sentences(of: PhonemeBlocks.split(text)) {
                (part: String) throws(PhonemizerError) -> [[String]] in
                try espeakSentences(part, voice: config.espeakVoice).sentences.map { rules.phonemes(fromIPA: $0) }
            }
        case "text":
            sentences = [text.decomposedStringWithCanonicalMapping.unicodeScalars.map { String($0) }]
        default:
            throw PhonemizerError.unsupportedPhonemeType(config.phonemeType)
        }
        return sentences.filter { !$0.isEmpty }.map { phonemes in
            let ids = rules.ids(for: phonemes)
            return PiperSentence(phonemes: phonemes, ids: ids.ids, skipped: ids.skipped)
        }
    }

    /// Piper's phoneme ids for `text` with the voice `config`: one array per sentence, each `^ _ (p _)* $`.
    ///
    /// - Throws: as `piperSentences(for:config:)`.
    public func phonemeIDs(for text: String, config: PiperPhonemeConfig) async throws(PhonemizerError) -> [[Int]] {
        try await piperSentences(for: text, config: config).map(\.ids)
    }

    /// The sentences espeak-ng makes of `text`, empty ones included (as piper1-gpl's `EspeakPhonemizer` returns
    /// them), with the clause reader's record.
    func espeakSentences(_ text: String, voice: String) throws(PhonemizerError) -> EspeakSentences.Assembly {
        let text = Self.sanitized(text)
        let translation = try EspeakLibrary.shared.translate(text, voice: voice, withMnemonics: style == .piperTTS)
        return EspeakSentences.assemble(text, translation: translation, style: style)
    }

    private static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.isWhitespace || $0.value == 0 }
    }

    /// The text with U+0000 (which would end the C string) and U+0001 (espeak-ng's embedded-command marker) made
    /// spaces.
    private static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value <= 1 }) else { return text }
        var view = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { view.append(scalar.value <= 1 ? " " : scalar) }
        return String(view)
    }
}

/// The Phonemizer target's logger.
let logger = Logger(label: "hark.phonemizer")
