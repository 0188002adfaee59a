// EspeakSentences: espeak-ng's clauses joined into sentences the way Piper joins them.
//
// Follows piper1-gpl's src/piper/phonemize_espeak.py (`EspeakPhonemizer.phonemize`): remove language-switch flags,
// append the clause's punctuation (with a space after `,` `:` `;`), decompose to NFD, and close the sentence when
// the clause ends one. Each clause's punctuation and sentence end come from `ClauseReader`, checked against the
// text pointer espeak-ng itself returned.
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/phonemize_espeak.py

import Foundation

/// Turns one text's espeak-ng translation into Piper's sentences.
enum EspeakSentences {
    /// The sentences of a text and how well the clause reader followed espeak-ng.
    struct Assembly: Sendable {
        /// Each sentence's phonemes (NFD), in order; a sentence can be empty, as in Piper (synthesis skips those).
        var sentences: [String]
        /// How many clauses ended somewhere the clause reader did not expect (0 when it follows espeak-ng exactly;
        /// those clauses' punctuation was then read off the text they consumed).
        var resynchronizations: Int
    }

    /// Assembles the sentences of `text`, which espeak-ng translated into `translation`.
    static func assemble(_ text: String, translation: EspeakTranslation, style: EspeakIPAStyle) -> Assembly {
        var reader = ClauseReader(text)
        let positions = Self.characterPositions(of: text)
        let americanEnglish = translation.voiceIdentifier.split(separator: "/").last?.lowercased() == "en-us"
        var sentences: [String] = []
        var sentence = ""
        var resynchronizations = 0
        var mnemonics: [EspeakTranslation.Clause]? = nil
        if style == .piperTTS, let second = translation.mnemonics {
            if second.count == translation.ipa.count {
                mnemonics = second
            } else {
                logger.warning(
                    "espeak-ng's two passes over a text differ in clauses; its IPA is kept as written",
                    metadata: ["ipa": "\(translation.ipa.count)", "mnemonics": "\(second.count)"])
            }
        }
        for (index, clause) in translation.ipa.enumerated() {
            let start = reader.position
            var end = reader.readClause()
            let expected = clause.byteOffset.map { positions.character(atByte: $0) } ?? reader.characters.count
            if reader.position != expected {
                resynchronizations += 1
                end = Self.clauseEnd(reader.characters, from: start, to: expected, finished: clause.byteOffset == nil)
                logger.warning(
                    "clause ends where the clause reader did not expect; punctuation read off the text",
                    metadata: ["clause": "\(index)", "expected": "\(expected)", "read": "\(reader.position)"])
                reader.resynchronize(to: expected)
            }
            var phonemes = EspeakIPARewriter.removingSeparators(clause.phonemes)
            if let mnemonics {
                if let rewritten = EspeakIPARewriter.rewrite(
                    ipa: clause.phonemes, mnemonics: mnemonics[index].phonemes, americanEnglish: americanEnglish)
                {
                    phonemes = rewritten
                } else {
                    logger.debug("a clause's IPA and mnemonics do not line up; its IPA is kept as written")
                }
            }
            phonemes = removingLanguageFlags(phonemes) + end.punctuation
            if [",", ":", ";"].contains(end.punctuation) { phonemes += " " }
            sentence += phonemes.decomposedStringWithCanonicalMapping
            if end.endsSentence {
                sentences.append(sentence)
                sentence = ""
            }
        }
        if !sentence.isEmpty { sentences.append(sentence) }
        return Assembly(sentences: sentences, resynchronizations: resynchronizations)
    }

    /// Removes espeak-ng's language-switch flags such as `(en)` or `(fr)`: Python's `re.sub(r"\([^)]+\)", "", s)`.
    static func removingLanguageFlags(_ phonemes: String) -> String {
        let scalars = Array(phonemes.unicodeScalars)
        guard scalars.contains("(") else { return phonemes }
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "(",
                let close = scalars[(index + 1)...].firstIndex(of: ")"), close > index + 1
            {
                index = close + 1
                continue
            }
            result.append(scalars[index])
            index += 1
        }
        return String(result)
    }

    /// The clause end read off the characters one `espeak_TextToPhonemes` call consumed (positions `start..<end`),
    /// for the rare clause the clause reader did not follow: the last punctuation before the look-ahead character,
    /// a blank line, or nothing.
    static func clauseEnd(_ characters: [UInt32], from start: Int, to end: Int, finished: Bool) -> ClauseEnd {
        // Drop the text's closing 0 and the look-ahead character espeak-ng holds back for the next clause.
        var upper = finished ? characters.count - 1 : end - 1
        upper = min(max(upper, start), characters.count - 1)
        var newlines = 0
        while upper > start && EspeakCharacters.isSpace(characters[upper - 1]) {
            if characters[upper - 1] == 0x0A { newlines += 1 }
            upper -= 1
        }
        let last = upper > start ? characters[upper - 1] : 0x20
        let type = EspeakCharacters.clauseType(last)
        if newlines > 1 { return ClauseEnd(code: ClauseEnd.paragraph) }
        if type != ClauseEnd.none { return ClauseEnd(code: type) }
        return ClauseEnd(code: finished ? ClauseEnd.endOfText : ClauseEnd.none)
    }

    /// Byte offsets in the UTF-8 text (with its closing 0) to character positions.
    struct CharacterPositions {
        /// For each byte offset, the position of the character starting there (continuation bytes: the next one).
        var positionAtByte: [Int]

        func character(atByte offset: Int) -> Int {
            positionAtByte[min(max(offset, 0), positionAtByte.count - 1)]
        }
    }

    static func characterPositions(of text: String) -> CharacterPositions {
        var positions: [Int] = []
        positions.reserveCapacity(text.utf8.count + 2)
        for (index, scalar) in text.unicodeScalars.enumerated() {
            let length = UTF8.width(scalar)
            positions.append(index)
            for _ in 1..<max(length, 1) { positions.append(index + 1) }
        }
        let count = text.unicodeScalars.count
        positions.append(count)  // the closing 0
        positions.append(count + 1)  // past it: the text is finished
        return CharacterPositions(positionAtByte: positions)
    }
}
