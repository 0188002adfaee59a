// SentenceSplitter: cuts streamed text (LLM deltas) into sentences as soon as each one is complete, so the first
// sentence can be spoken while the model still writes the rest.

import Foundation

/// Accumulates text pieces and hands out whole sentences.
///
/// A sentence ends at `.`, `!`, `?` or `…` (with any closing quotes or brackets) followed by white space, or at a
/// line break. A full stop after a single letter or a common abbreviation ("Dr.", "e.g.") or between digits
/// ("3.5") does not end one. Markdown emphasis and list bullets are dropped: they are not spoken.
public struct SentenceSplitter: Sendable {
    private var buffer = ""
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "no", "jr", "sr", "approx", "inc", "ltd",
    ]

    private static let quotes = CharacterSet(charactersIn: "\"'([“‘")

    public init() {}

    /// Adds a piece of text; returns the sentences it completed.
    public mutating func add(_ text: String) -> [String] {
        buffer += text
        var sentences: [String] = []
        while let end = sentenceEnd() {
            let sentence = Self.clean(String(buffer[..<end]))
            buffer = String(buffer[end...])
            if !sentence.isEmpty { sentences.append(sentence) }
        }
        return sentences
    }

    /// The text left over at the end of the stream, as a last sentence (nil when there is none).
    public mutating func finish() -> String? {
        let rest = Self.clean(buffer)
        buffer = ""
        return rest.isEmpty ? nil : rest
    }

    /// Index just past the first complete sentence in the buffer, if there is one.
    private func sentenceEnd() -> String.Index? {
        var i = buffer.startIndex
        while i < buffer.endIndex {
            let c = buffer[i]
            if c == "\n" {
                return buffer.index(after: i)
            }
            if ".!?…".contains(c) {
                var j = buffer.index(after: i)
                while j < buffer.endIndex, ".!?…\"')]”’".contains(buffer[j]) { j = buffer.index(after: j) }
                // The end is only known once the next character arrives.
                guard j < buffer.endIndex else { return nil }
                if buffer[j].isWhitespace, !(c == "." && isAbbreviation(before: i)) {
                    return j
                }
                i = j
                continue
            }
            i = buffer.index(after: i)
        }
        return nil
    }

    /// Whether the word before the full stop at `index` is an abbreviation or a single letter.
    private func isAbbreviation(before index: String.Index) -> Bool {
        var start = index
        while start > buffer.startIndex {
            let previous = buffer.index(before: start)
            if buffer[previous].isWhitespace { break }
            start = previous
        }
        let word = buffer[start..<index].lowercased().trimmingCharacters(in: Self.quotes)
        return Self.abbreviations.contains(word) || (word.count == 1 && word.first!.isLetter)
    }

    /// Drops markdown marks and list bullets and trims white space.
    static func clean(_ text: String) -> String {
        var t = text.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "__", with: "")
            .replacingOccurrences(of: "`", with: "").replacingOccurrences(of: "#", with: "")
        t = t.trimmingCharacters(in: .whitespacesAndNewlines)
        for bullet in ["- ", "* ", "• "] where t.hasPrefix(bullet) { t.removeFirst(bullet.count) }
        return t.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
