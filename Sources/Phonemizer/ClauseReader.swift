// ClauseReader: where espeak-ng ends each clause of a text, and with which punctuation, in Swift.
//
// A port of the clause-ending decisions of espeak-ng's `ReadClause`
// (https://github.com/espeak-ng/espeak-ng/blob/1.51/src/libespeak-ng/readclause.c), for the options
// `espeak_TextToPhonemes` runs with: no SSML, no spoken punctuation, no `[[ ]]` phoneme input, no line-length
// clauses. The clause codes are translate.h's `CLAUSE_*`; piper-tts 1.8.0 reads them back through
// `espeak_TextToPhonemesWithTerminator` (piper1-gpl src/piper/espeakbridge.c), which Debian's espeak-ng 1.51 lacks.
// The 2026 espeak-ng that piper-tts bundles decides clause ends exactly the same way.

/// What ended a clause: espeak-ng's clause code (translate.h `CLAUSE_*`), and what Piper makes of it.
struct ClauseEnd: Sendable, Equatable {
    /// The raw clause code `ReadClause` returned.
    var code: UInt32

    static let optionalSpaceAfter: UInt32 = 0x0000_8000
    static let typeEOF: UInt32 = 0x0001_0000
    static let typeClause: UInt32 = 0x0004_0000
    static let typeSentence: UInt32 = 0x0008_0000
    static let punctuationInWord: UInt32 = 0x0010_0000
    static let speakPunctuationName: UInt32 = 0x0020_0000

    static let none: UInt32 = 0x4000
    static let paragraph: UInt32 = 70 | typeSentence
    static let endOfText: UInt32 = 40 | typeSentence | typeEOF
    static let period: UInt32 = 40 | typeSentence
    static let comma: UInt32 = 20 | 0x1000 | typeClause
    static let question: UInt32 = 40 | 0x2000 | typeSentence
    static let exclamation: UInt32 = 45 | 0x3000 | typeSentence
    static let colon: UInt32 = 30 | typeClause
    static let semicolon: UInt32 = 30 | 0x1000 | typeClause

    /// The punctuation Piper appends to the clause's phonemes: its terminator, compared after masking with
    /// 0x000FFFFF exactly as piper1-gpl's espeakbridge does (so an ellipsis, a paragraph end or the end of the text
    /// append nothing).
    var punctuation: String {
        switch code & 0x000F_FFFF {
        case Self.period: return "."
        case Self.question: return "?"
        case Self.exclamation: return "!"
        case Self.comma: return ","
        case Self.colon: return ":"
        case Self.semicolon: return ";"
        default: return ""
        }
    }

    /// Whether the clause ends a sentence (`CLAUSE_TYPE_SENTENCE`): full stops, questions, exclamations, paragraph
    /// ends and the end of the text.
    var endsSentence: Bool { code & Self.typeSentence != 0 }
}

/// Reads a text clause by clause as espeak-ng's `ReadClause` does, reporting where each clause ends and why.
///
/// espeak-ng reads one character ahead; when a clause ends, the character after it is held back ("ungot") and is
/// the first one the next clause reads. The reader models that: `position` is how many characters have been taken
/// from the text, which is exactly where `espeak_TextToPhonemes` leaves its text pointer. The text ends with a 0
/// character, as espeak-ng's decoder sees the C string's terminator.
struct ClauseReader {
    /// The text's Unicode scalar values followed by 0.
    let characters: [UInt32]
    /// How many characters have been taken from the text (the decoder position).
    private(set) var position = 0
    /// The character held back for the next clause (0: none).
    private(set) var heldBack: UInt32 = 0

    /// The size of espeak-ng's clause buffer (translate.h `N_TR_SOURCE`), in UTF-8 bytes.
    static let clauseBufferSize = 800

    init(_ text: String) {
        characters = text.unicodeScalars.map(\.value) + [0]
    }

    /// Whether the whole text has been read (espeak-ng's text pointer is NULL).
    var isFinished: Bool { heldBack == 0 && position == characters.count }

    /// Moves the reader to a position espeak-ng reported, holding back the character before it (the look-ahead
    /// espeak-ng keeps) unless the text is finished.
    mutating func resynchronize(to newPosition: Int) {
        position = min(max(newPosition, 0), characters.count)
        heldBack = position > 0 && position < characters.count ? characters[position - 1] : 0
    }

    private var atEnd: Bool { heldBack == 0 && position == characters.count }

    private mutating func next() -> UInt32 {
        if heldBack != 0 {
            defer { heldBack = 0 }
            return heldBack
        }
        guard position < characters.count else { return 0 }
        defer { position += 1 }
        return characters[position]
    }

    private func peekText() -> UInt32 { position < characters.count ? characters[position] : 0 }

    /// Reads the next clause and returns how it ended.
    mutating func readClause() -> ClauseEnd {
        typealias C = EspeakCharacters
        let questionOrExclamation = ClauseEnd.question | ClauseEnd.exclamation
        var c1: UInt32 = 0x20
        var c2: UInt32 = atEnd ? 0 : next()
        var anyAlnum = false
        var stressedWord = false
        var bufferBytes = 0

        while !atEnd {
            c1 = c2
            c2 = atEnd ? 0x20 : next()
            if C.isIgnored(c1) { continue }

            if C.isAlnum(c1) {
                anyAlnum = true
            } else {
                if stressedWord {
                    // Armenian in-word punctuation: the word before it is marked stressed.
                    stressedWord = false
                    c1 = 0x530
                    heldBack = c2
                    c2 = 0x20
                }
                if c1 == 0xF0B { c1 = 0x20 }
            }

            if c1 == 0x0A {
                // A blank line (a second newline, other spaces between) ends a paragraph.
                var newlines = 0
                while !atEnd && C.isSpace(c2) {
                    if c2 == 0x0A { newlines += 1 }
                    c2 = next()
                }
                if newlines > 0 {
                    heldBack = c2
                    return ClauseEnd(code: ClauseEnd.paragraph - 30 + 30 * UInt32(min(newlines, 3)))
                }
            }

            var isEndOfClause = false
            if c1 == 0x2E && c2 == 0x2E {
                // Three or more dots are an ellipsis; two dots are read one by one.
                var following: UInt32 = 0
                while !atEnd {
                    following = next()
                    guard following == 0x2E else { break }
                    c1 = 0x2026
                    c2 = 0x20
                }
                if c1 == 0x2026 { c2 = following } else { heldBack = following }
            }

            let punctuation = C.clauseType(c1)
            if punctuation != ClauseEnd.none {
                if punctuation & questionOrExclamation != 0 {
                    // Punctuation right after punctuation ("?!", "!!", ".,") is swallowed: the first one counts.
                    while !atEnd && C.clauseType(c2) & questionOrExclamation != 0 { c2 = next() }
                }
                if punctuation & ClauseEnd.punctuationInWord != 0 {
                    stressedWord = true
                    continue
                }
                if C.isSpace(c2) || punctuation & ClauseEnd.optionalSpaceAfter != 0 || C.isBracket(c2) || c2 == 0x3F
                    || atEnd || c2 == 0x01
                {
                    isEndOfClause = true
                }
            }

            if isEndOfClause {
                var newlines = 0
                var following = c2
                if C.isSpace(following) {
                    while !atEnd && C.isSpace(following) {
                        if following == 0x0A { newlines += 1 }
                        following = next()
                    }
                }
                if newlines == 0 {
                    if c1 == 0x2E && following == 0x27 && peekText() == 0x73 {
                        isEndOfClause = false  // an acronym's genitive: "U.S.A.'s"
                    }
                    if c1 == 0x2E {
                        if C.isLower(following) { isEndOfClause = false }  // an abbreviation: "e.g. this"
                        if !anyAlnum {
                            c1 = 0x20
                            isEndOfClause = false
                        }
                    } else if !anyAlnum {
                        isEndOfClause = false
                    }
                }
                if isEndOfClause {
                    heldBack = following
                    if newlines > 1 {
                        if punctuation == ClauseEnd.question || punctuation == ClauseEnd.exclamation {
                            return ClauseEnd(code: punctuation + 35)
                        }
                        return ClauseEnd(code: ClauseEnd.paragraph)
                    }
                    return ClauseEnd(code: punctuation)
                } else if !atEnd && C.isSpace(c2) {
                    heldBack = following
                }
            }

            bufferBytes += Self.utf8Length(c1)
            if (bufferBytes > Self.clauseBufferSize - 75 && !C.isAlpha(c1) && !C.isDigit(c1))
                || bufferBytes >= Self.clauseBufferSize - 4
            {
                // The clause is too long for espeak-ng's buffer: it ends at the next non-letter, with no punctuation.
                heldBack = c2
                return ClauseEnd(code: ClauseEnd.none)
            }
        }
        return ClauseEnd(code: ClauseEnd.endOfText)
    }

    private static func utf8Length(_ c: UInt32) -> Int {
        switch c {
        case 0..<0x80: return 1
        case 0x80..<0x800: return 2
        case 0x800..<0x10000: return 3
        default: return 4
        }
    }
}
