// PhonemeBlocks: text with raw phonemes in [[ ... ]], split and joined into sentences as Piper does.
//
// Follows piper1-gpl's src/piper/voice.py (`PiperVoice.phonemize`): the text is split on the pattern
// `(\[\[.*?\]\])`; text parts are phonemized, each `[[ ... ]]` part is taken verbatim (stripped, one phoneme per
// code point, no NFD) and joins the current sentence, with a space where the text beside it has one; the first
// sentence of the text after a raw block continues the raw block's sentence.
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/voice.py

/// One part of a text: ordinary text, or a `[[ ... ]]` block of raw phonemes.
enum PhonemeBlock: Sendable, Equatable {
    case text(String)
    case raw(String)
}

enum PhonemeBlocks {
    /// Python's `re.split(r"(\[\[.*?\]\])", text)`: text parts (possibly empty) alternating with `[[ ... ]]` blocks
    /// (whose `.` does not cross a newline). A text part that itself starts with `[[` counts as raw, as Piper's
    /// `startswith("[[")` check makes it.
    static func split(_ text: String) -> [PhonemeBlock] {
        let scalars = Array(text.unicodeScalars)
        var parts: [String] = []
        var textStart = 0
        var index = 0
        while index + 1 < scalars.count {
            guard scalars[index] == "[", scalars[index + 1] == "[" else {
                index += 1
                continue
            }
            // The shortest `[[ ... ]]` from here that has no newline inside.
            var close = index + 2
            var found: Int?
            while close + 1 < scalars.count && scalars[close] != "\n" {
                if scalars[close] == "]" && scalars[close + 1] == "]" {
                    found = close
                    break
                }
                close += 1
            }
            guard let found else {
                index += 1
                continue
            }
            parts.append(string(scalars[textStart..<index]))
            parts.append(string(scalars[index..<(found + 2)]))
            index = found + 2
            textStart = index
        }
        parts.append(string(scalars[textStart...]))
        return parts.map { $0.unicodeScalars.starts(with: "[[".unicodeScalars) ? .raw($0) : .text($0) }
    }

    /// Joins the parts' phonemes into sentences as `PiperVoice.phonemize` does.
    ///
    /// - Parameter phonemize: a text part's sentences, each a list of phonemes (Piper's espeak-ng sentences,
    ///   empty ones included).
    static func sentences<Failure: Error>(
        of parts: [PhonemeBlock], phonemize: (String) throws(Failure) -> [[String]]
    ) throws(Failure) -> [[String]] {
        var sentences: [[String]] = []
        var previousWasRaw = false
        for (index, part) in parts.enumerated() {
            switch part {
            case .raw(let block):
                previousWasRaw = true
                if sentences.isEmpty { sentences.append([]) }
                if index > 0, case .text(let before) = parts[index - 1], before.unicodeScalars.last == " " {
                    sentences[sentences.count - 1].append(" ")
                }
                sentences[sentences.count - 1] += rawPhonemes(block)
                if index + 1 < parts.count, case .text(let after) = parts[index + 1], after.unicodeScalars.first == " "
                {
                    sentences[sentences.count - 1].append(" ")
                }
            case .text(let text):
                var partSentences = try phonemize(text)
                if previousWasRaw, !partSentences.isEmpty {
                    sentences[sentences.count - 1] += partSentences.removeFirst()
                }
                sentences += partSentences
                previousWasRaw = false
            }
        }
        if sentences.last?.isEmpty == true { sentences.removeLast() }
        return sentences
    }

    /// A raw block's phonemes: `text_part[2:-2].strip()`, one phoneme per code point.
    static func rawPhonemes(_ block: String) -> [String] {
        let scalars = Array(block.unicodeScalars)
        guard scalars.count > 4 else { return [] }
        var inner = scalars[2..<(scalars.count - 2)]
        while let first = inner.first, isPythonSpace(first) { inner.removeFirst() }
        while let last = inner.last, isPythonSpace(last) { inner.removeLast() }
        return inner.map { String($0) }
    }

    /// Python's `str.isspace` for one code point (what `str.strip()` removes).
    static func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
