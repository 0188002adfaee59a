// Turning a stream of token bytes into text a listener can use at once: whole UTF-8 characters only, and
// nothing that might turn out to be the start of a stop string.

/// Collects token bytes, hands out text as soon as it is safe, and notices stop strings.
///
/// Tokens split characters (byte-level BPE emits a 4-byte emoji as several tokens), and a stop string may
/// span tokens, so text is held back while it is an incomplete character or a possible stop-string prefix.
public struct ReplyText: Sendable {
    public let stopStrings: [String]
    private var pendingBytes: [UInt8] = []
    private var heldText = ""
    /// Everything emitted so far.
    public private(set) var emitted = ""
    /// Set once a stop string has been seen; nothing more is emitted.
    public private(set) var stopped = false

    public init(stopStrings: [String] = []) {
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
    }

    /// Adds one token's bytes; returns the text that became safe to emit (possibly empty).
    public mutating func append(_ bytes: [UInt8]) -> String {
        guard !stopped else { return "" }
        pendingBytes += bytes
        let complete = Self.completePrefixLength(pendingBytes)
        guard complete > 0 else { return "" }
        heldText += String(decoding: pendingBytes[..<complete], as: UTF8.self)
        pendingBytes.removeFirst(complete)
        return release(final: false)
    }

    /// Ends the reply: emits whatever is still held (an incomplete trailing character as U+FFFD).
    public mutating func finish() -> String {
        guard !stopped else { return "" }
        if !pendingBytes.isEmpty {
            heldText += String(decoding: pendingBytes, as: UTF8.self)
            pendingBytes = []
        }
        return release(final: true)
    }

    private mutating func release(final: Bool) -> String {
        // A whole stop string: emit what precedes it and stop.
        if let cut = stopStrings.compactMap({ heldText.range(of: $0)?.lowerBound }).min() {
            let out = String(heldText[..<cut])
            heldText = ""
            stopped = true
            emitted += out
            return out
        }
        var keep = 0
        if !final {
            // The longest tail of the held text that is a proper prefix of some stop string stays held.
            for stop in stopStrings {
                for n in stride(from: min(stop.count - 1, heldText.count), to: 0, by: -1)
                where heldText.hasSuffix(stop.prefix(n)) {
                    keep = max(keep, n)
                    break
                }
            }
        }
        let out = String(heldText.dropLast(keep))
        heldText = String(heldText.suffix(keep))
        emitted += out
        return out
    }

    /// How many leading bytes form complete UTF-8 sequences (invalid bytes count as complete: they decode
    /// to U+FFFD and must not block the stream).
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var i = bytes.count
        // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
        var back = 0
        while i > 0, back < 4, bytes[i - 1] & 0xC0 == 0x80 {
            i -= 1
            back += 1
        }
        guard i > 0 else { return back >= 4 ? bytes.count : 0 }
        let lead = bytes[i - 1]
        let need: Int
        switch lead {
        case 0xC0...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF7: need = 4
        default: return bytes.count
        }
        let have = back + 1
        return have >= need ? bytes.count : i - 1
    }
}

extension String {
    fileprivate func range(of needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(needle) { return start..<index(start, offsetBy: needle.count) }
            start = index(after: start)
        }
        return nil
    }
}
