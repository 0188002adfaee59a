// EspeakCharacters: the character classes espeak-ng's clause reader uses, in Swift.
//
// Follows espeak-ng 1.51 (the same in the 2026 snapshot piper-tts 1.8.0 bundles):
// - clause punctuation: src/libespeak-ng/readclause.c `clause_type_from_codepoint`, whose per-character properties
//   come from src/ucd-tools/data/espeak-ng/PropList.txt (reproduced in `punctuationTable` below);
// - `iswspace`, `iswalnum`, `iswalpha`, `iswlower`: src/ucd-tools/src/ctype.c (espeak-ng builds against these,
//   through src/include/compat/wctype.h, so they do not depend on the C locale);
// - `IsAlpha`, `IsBracket`: src/libespeak-ng/translate.c; ignored characters: tr_languages.c
//   `chars_ignore_default`.
// https://github.com/espeak-ng/espeak-ng/blob/1.51/src/libespeak-ng/readclause.c

/// espeak-ng's own Unicode character properties for clause punctuation (ucd-tools' `ESPEAKNG_PROPERTY_*`).
struct PunctuationProperties: OptionSet, Sendable {
    let rawValue: UInt16

    static let fullStop = PunctuationProperties(rawValue: 1 << 0)
    static let questionMark = PunctuationProperties(rawValue: 1 << 1)
    static let exclamationMark = PunctuationProperties(rawValue: 1 << 2)
    static let comma = PunctuationProperties(rawValue: 1 << 3)
    static let colon = PunctuationProperties(rawValue: 1 << 4)
    static let semicolon = PunctuationProperties(rawValue: 1 << 5)
    static let extendedDash = PunctuationProperties(rawValue: 1 << 6)
    static let ellipsis = PunctuationProperties(rawValue: 1 << 7)
    static let paragraphSeparator = PunctuationProperties(rawValue: 1 << 8)
    static let optionalSpaceAfter = PunctuationProperties(rawValue: 1 << 9)
    static let invertedTerminalPunctuation = PunctuationProperties(rawValue: 1 << 10)
    static let punctuationInWord = PunctuationProperties(rawValue: 1 << 11)
}

/// Character classes as espeak-ng's clause reader sees them. Characters are Unicode scalar values (`UInt32`), 0 being
/// the end of the text.
enum EspeakCharacters {
    /// The clause code espeak-ng gives a punctuation character (`clause_type_from_codepoint`), or `ClauseEnd.none`.
    static func clauseType(_ c: UInt32) -> UInt32 {
        let p = properties(c)
        switch p {
        case [.fullStop]: return ClauseEnd.period
        case [.fullStop, .optionalSpaceAfter]: return ClauseEnd.period | ClauseEnd.optionalSpaceAfter
        case [.questionMark]: return ClauseEnd.question
        case [.questionMark, .optionalSpaceAfter]: return ClauseEnd.question | ClauseEnd.optionalSpaceAfter
        case [.questionMark, .punctuationInWord]: return ClauseEnd.question | ClauseEnd.punctuationInWord
        case [.exclamationMark]: return ClauseEnd.exclamation
        case [.exclamationMark, .optionalSpaceAfter]: return ClauseEnd.exclamation | ClauseEnd.optionalSpaceAfter
        case [.exclamationMark, .punctuationInWord]: return ClauseEnd.exclamation | ClauseEnd.punctuationInWord
        case [.comma]: return ClauseEnd.comma
        case [.comma, .optionalSpaceAfter]: return ClauseEnd.comma | ClauseEnd.optionalSpaceAfter
        case [.colon]: return ClauseEnd.colon
        case [.colon, .optionalSpaceAfter]: return ClauseEnd.colon | ClauseEnd.optionalSpaceAfter
        case [.semicolon], [.extendedDash]: return ClauseEnd.semicolon
        case [.semicolon, .optionalSpaceAfter],
            [.questionMark, .optionalSpaceAfter, .invertedTerminalPunctuation],
            [.exclamationMark, .optionalSpaceAfter, .invertedTerminalPunctuation]:
            return ClauseEnd.semicolon | ClauseEnd.optionalSpaceAfter
        case [.ellipsis]:
            return ClauseEnd.semicolon | ClauseEnd.speakPunctuationName | ClauseEnd.optionalSpaceAfter
        case [.paragraphSeparator]: return ClauseEnd.paragraph
        default: return ClauseEnd.none
        }
    }

    /// espeak-ng's punctuation properties of `c` (empty for most characters).
    static func properties(_ c: UInt32) -> PunctuationProperties {
        if c < 0x80 {
            switch c {
            case 0x21: return .exclamationMark
            case 0x2C: return .comma
            case 0x2E: return .fullStop
            case 0x3A: return .colon
            case 0x3B: return .semicolon
            case 0x3F: return .questionMark
            default: return []
            }
        }
        var result: PunctuationProperties = []
        for (range, property) in punctuationTable where range.contains(c) {
            result.insert(property)
        }
        return result
    }

    /// `ucd_isspace`: separators (except the no-break spaces) and the white-space control characters.
    static func isSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x20, 0x85: return true
        case 0xA0, 0x2007, 0x202F: return false
        case 0...0x7F: return false
        default:
            switch category(c) {
            case .lineSeparator, .paragraphSeparator, .spaceSeparator: return true
            default: return false
            }
        }
    }

    /// `ucd_isalnum`: letters and numbers, and marks or symbols with the Other_Alphabetic property.
    static func isAlnum(_ c: UInt32) -> Bool {
        if c < 0x80 { return isASCIIDigit(c) || isASCIILetter(c) }
        switch category(c) {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber,
            .decimalNumber, .otherNumber:
            return true
        case .nonspacingMark, .spacingMark, .otherSymbol:
            return scalar(c)?.properties.isAlphabetic ?? false
        default:
            return false
        }
    }

    /// `ucd_isalpha`: letters, and marks or symbols with the Other_Alphabetic property.
    static func isAlphaUCD(_ c: UInt32) -> Bool {
        if c < 0x80 { return isASCIILetter(c) }
        switch category(c) {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber:
            return true
        case .nonspacingMark, .spacingMark, .otherSymbol:
            return scalar(c)?.properties.isAlphabetic ?? false
        default:
            return false
        }
    }

    /// `ucd_islower`: lower-case letters, title-case letters that change in upper case, and characters with the
    /// Other_Lowercase property.
    static func isLower(_ c: UInt32) -> Bool {
        if c < 0x80 { return c >= 0x61 && c <= 0x7A }
        guard let s = scalar(c) else { return false }
        switch s.properties.generalCategory {
        case .lowercaseLetter: return true
        case .titlecaseLetter: return s.properties.uppercaseMapping != String(Character(s))
        case .modifierLetter, .otherLetter, .nonspacingMark, .letterNumber, .otherSymbol:
            return s.properties.isLowercase
        default: return false
        }
    }

    /// espeak-ng's `IsAlpha`: `iswalpha` plus in-word marks of several scripts.
    static func isAlpha(_ c: UInt32) -> Bool {
        if isAlphaUCD(c) { return true }
        if c < 0x300 { return false }
        if c >= 0x901 && c <= 0xDF7 {
            // Indic scripts: Devanagari, Tamil and others; Gurmukhi tippi and addak; Malayalam chillu.
            return (c & 0x7F) < 0x64 || c == 0xA70 || c == 0xA71 || (c >= 0xD7A && c <= 0xD7F)
        }
        return (c >= 0x5B0 && c <= 0x5C2) || c == 0x605 || c == 0x670 || (c >= 0x64B && c <= 0x65E)
            || (c >= 0x300 && c <= 0x36F) || (c >= 0xF40 && c <= 0xFBC) || (c >= 0x1100 && c <= 0x11FF)
            || (c >= 0x2800 && c <= 0x28FF) || (c > 0x3040 && c <= 0xA700)
    }

    /// `iswdigit` (ucd-tools): the ASCII digits only.
    static func isDigit(_ c: UInt32) -> Bool { isASCIIDigit(c) }

    /// espeak-ng's `IsBracket`: brackets, quotes and the dashes and quotation marks U+2014 to U+201F.
    static func isBracket(_ c: UInt32) -> Bool {
        if c >= 0x2014 && c <= 0x201F { return true }
        switch c {
        case 0x28, 0x29, 0x5B, 0x5D, 0x7B, 0x7D, 0x3C, 0x3E, 0x22, 0x27, 0x60, 0xAB, 0xBB, 0x300A, 0x300B, 0xE03C:
            return true
        default:
            return false
        }
    }

    /// Characters the clause reader skips entirely (`chars_ignore_default`: soft hyphen, zero-width non-joiner).
    static func isIgnored(_ c: UInt32) -> Bool { c == 0xAD || c == 0x200C }

    private static func isASCIIDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isASCIILetter(_ c: UInt32) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    private static func scalar(_ c: UInt32) -> Unicode.Scalar? { Unicode.Scalar(c) }
    private static func category(_ c: UInt32) -> Unicode.GeneralCategory {
        scalar(c)?.properties.generalCategory ?? .unassigned
    }

    /// espeak-ng's clause-punctuation properties (src/ucd-tools/data/espeak-ng/PropList.txt, identical in 1.51 and in
    /// the snapshot piper-tts 1.8.0 bundles), sorted by code point.
    static let punctuationTable: [(ClosedRange<UInt32>, PunctuationProperties)] = [
        (0x0021...0x0021, .exclamationMark),
        (0x002C...0x002C, .comma),
        (0x002E...0x002E, .fullStop),
        (0x003A...0x003A, .colon),
        (0x003B...0x003B, .semicolon),
        (0x003F...0x003F, .questionMark),
        (0x00A1...0x00A1, .exclamationMark),
        (0x00A1...0x00A1, .invertedTerminalPunctuation),
        (0x00A1...0x00A1, .optionalSpaceAfter),
        (0x00BF...0x00BF, .invertedTerminalPunctuation),
        (0x00BF...0x00BF, .optionalSpaceAfter),
        (0x00BF...0x00BF, .questionMark),
        (0x037E...0x037E, .questionMark),
        (0x0387...0x0387, .semicolon),
        (0x055B...0x055C, .exclamationMark),
        (0x055B...0x055C, .punctuationInWord),
        (0x055D...0x055D, .comma),
        (0x055E...0x055E, .punctuationInWord),
        (0x055E...0x055E, .questionMark),
        (0x0589...0x0589, .fullStop),
        (0x0589...0x0589, .optionalSpaceAfter),
        (0x060C...0x060C, .comma),
        (0x061B...0x061B, .semicolon),
        (0x061F...0x061F, .questionMark),
        (0x06D4...0x06D4, .fullStop),
        (0x0700...0x0700, .paragraphSeparator),
        (0x0701...0x0701, .fullStop),
        (0x0702...0x0702, .comma),
        (0x0703...0x0703, .exclamationMark),
        (0x0704...0x0704, .fullStop),
        (0x0706...0x0707, .colon),
        (0x0708...0x0708, .semicolon),
        (0x0709...0x0709, .questionMark),
        (0x07F8...0x07F8, .comma),
        (0x07F9...0x07F9, .exclamationMark),
        (0x0964...0x0964, .fullStop),
        (0x0964...0x0964, .optionalSpaceAfter),
        (0x0965...0x0965, .paragraphSeparator),
        (0x0DF4...0x0DF4, .fullStop),
        (0x0DF4...0x0DF4, .optionalSpaceAfter),
        (0x0EAF...0x0EAF, .ellipsis),
        (0x0F0D...0x0F0D, .fullStop),
        (0x0F0D...0x0F0D, .optionalSpaceAfter),
        (0x0F0E...0x0F0E, .paragraphSeparator),
        (0x0F14...0x0F14, .comma),
        (0x10FB...0x10FB, .paragraphSeparator),
        (0x1362...0x1362, .fullStop),
        (0x1363...0x1363, .comma),
        (0x1364...0x1364, .semicolon),
        (0x1365...0x1366, .colon),
        (0x1367...0x1367, .questionMark),
        (0x1368...0x1368, .paragraphSeparator),
        (0x166E...0x166E, .fullStop),
        (0x1801...0x1801, .ellipsis),
        (0x1802...0x1802, .comma),
        (0x1803...0x1803, .fullStop),
        (0x1804...0x1804, .colon),
        (0x1808...0x1808, .comma),
        (0x1809...0x1809, .fullStop),
        (0x1944...0x1944, .exclamationMark),
        (0x1945...0x1945, .questionMark),
        (0x2013...0x2014, .extendedDash),
        (0x2026...0x2026, .ellipsis),
        (0x2029...0x2029, .paragraphSeparator),
        (0x203C...0x203C, .exclamationMark),
        (0x2047...0x2049, .questionMark),
        (0x2048...0x2049, .exclamationMark),
        (0x204F...0x204F, .semicolon),
        (0x22EE...0x22F1, .ellipsis),
        (0x2488...0x249B, .fullStop),
        (0x2753...0x2754, .questionMark),
        (0x2755...0x2755, .exclamationMark),
        (0x2757...0x2757, .exclamationMark),
        (0x2762...0x2763, .exclamationMark),
        (0x2982...0x2982, .colon),
        (0x2CF9...0x2CF9, .fullStop),
        (0x2CFA...0x2CFB, .questionMark),
        (0x2CFE...0x2CFE, .fullStop),
        (0x2E32...0x2E32, .comma),
        (0x2E33...0x2E33, .fullStop),
        (0x2E34...0x2E34, .comma),
        (0x2E35...0x2E35, .semicolon),
        (0x2E3A...0x2E3B, .extendedDash),
        (0x2E3C...0x2E3C, .fullStop),
        (0x2E41...0x2E41, .comma),
        (0x3001...0x3001, .comma),
        (0x3001...0x3002, .optionalSpaceAfter),
        (0x3002...0x3002, .fullStop),
        (0xA4FE...0xA4FE, .comma),
        (0xA4FF...0xA4FF, .fullStop),
        (0xA60D...0xA60D, .comma),
        (0xA60E...0xA60E, .fullStop),
        (0xA60F...0xA60F, .questionMark),
        (0xA6F3...0xA6F3, .fullStop),
        (0xA6F4...0xA6F4, .colon),
        (0xA6F5...0xA6F5, .comma),
        (0xA6F6...0xA6F6, .semicolon),
        (0xA6F7...0xA6F7, .questionMark),
        (0xFE10...0xFE11, .comma),
        (0xFE12...0xFE12, .fullStop),
        (0xFE13...0xFE13, .colon),
        (0xFE14...0xFE14, .semicolon),
        (0xFE15...0xFE15, .exclamationMark),
        (0xFE16...0xFE16, .questionMark),
        (0xFE19...0xFE19, .ellipsis),
        (0xFE31...0xFE32, .extendedDash),
        (0xFE50...0xFE51, .comma),
        (0xFE52...0xFE52, .fullStop),
        (0xFE54...0xFE54, .semicolon),
        (0xFE55...0xFE55, .colon),
        (0xFE56...0xFE56, .questionMark),
        (0xFE57...0xFE57, .exclamationMark),
        (0xFF01...0xFF01, .exclamationMark),
        (0xFF01...0xFF01, .optionalSpaceAfter),
        (0xFF0C...0xFF0C, .comma),
        (0xFF0C...0xFF0C, .optionalSpaceAfter),
        (0xFF0E...0xFF0E, .fullStop),
        (0xFF0E...0xFF0E, .optionalSpaceAfter),
        (0xFF1A...0xFF1A, .colon),
        (0xFF1A...0xFF1B, .optionalSpaceAfter),
        (0xFF1B...0xFF1B, .semicolon),
        (0xFF1F...0xFF1F, .optionalSpaceAfter),
        (0xFF1F...0xFF1F, .questionMark),
        (0xFF61...0xFF61, .fullStop),
        (0xFF64...0xFF64, .comma),
        (0x11143...0x11143, .questionMark),
        (0x1144D...0x1144D, .comma),
        (0x12471...0x12472, .colon),
        (0x16AF5...0x16AF5, .fullStop),
        (0x1BC9F...0x1BC9F, .fullStop),
        (0x1DA87...0x1DA87, .comma),
        (0x1DA88...0x1DA88, .fullStop),
        (0x1DA89...0x1DA89, .semicolon),
        (0x1DA8A...0x1DA8A, .colon),
        (0x1E95E...0x1E95E, .exclamationMark),
        (0x1E95F...0x1E95F, .questionMark),
        (0x1F100...0x1F100, .fullStop),
        (0x1F101...0x1F10A, .comma),
        (0xE0021...0xE0021, .exclamationMark),
        (0xE002C...0xE002C, .comma),
        (0xE002E...0xE002E, .fullStop),
        (0xE003A...0xE003A, .colon),
        (0xE003B...0xE003B, .semicolon),
        (0xE003F...0xE003F, .questionMark),
    ]
}
