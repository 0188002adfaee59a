// SentencePiece BPE as llama.cpp runs it for `tokenizer.ggml.model = llama`:
// https://github.com/ggml-org/llama.cpp/blob/master/src/llama-vocab.cpp (`llm_tokenizer_spm_session`,
// `llama_vocab::byte_to_token`).

/// Merges characters into the highest-scoring tokens; characters no token covers fall back to `<0xXX>` bytes.
struct SentencePieceEncoder: Sendable {
    /// Token text (raw UTF-8) → id, for every token.
    private let tokenForText: [[UInt8]: Int32]
    private let scores: [Float]
    /// `<0xXX>` (or, failing that, the one-byte token) for each byte; -1 when the vocabulary has neither.
    private let byteToken: [Int32]
    private let unknown: Int32?

    init(tokens: [[UInt8]], scores: [Float], unknown: Int32?) {
        var tokenForText: [[UInt8]: Int32] = [:]
        tokenForText.reserveCapacity(tokens.count)
        for (id, text) in tokens.enumerated() { tokenForText[text] = Int32(id) }
        self.tokenForText = tokenForText
        self.scores = scores
        self.unknown = unknown
        let hex = Array("0123456789ABCDEF".utf8)
        self.byteToken = (0..<256).map { byte in
            let name: [UInt8] = Array("<0x".utf8) + [hex[byte >> 4], hex[byte & 15], UInt8(ascii: ">")]
            return tokenForText[name] ?? tokenForText[[UInt8(byte)]] ?? -1
        }
    }

    /// The space marker "▁" (U+2581) that stands for a space in SentencePiece vocabularies.
    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]

    private struct Candidate {
        let score: Float
        let left: Int
        let right: Int
        let size: Int

        /// Higher score first; among equals, the leftmost.
        func precedes(_ other: Candidate) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Appends the tokens of `text` (already escaped: spaces as "▁") to `output`.
    func encode(_ text: [UInt8], into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        // One symbol per UTF-8 character: (start, length) into `text`.
        var start: [Int] = []
        var length: [Int] = []
        var offset = 0
        while offset < text.count {
            let n = min(Self.utf8Length(text[offset]), text.count - offset)
            start.append(offset)
            length.append(n)
            offset += n
        }
        let count = start.count
        var next = Array(1...count)
        next[count - 1] = -1
        var previous = Array(-1..<(count - 1))
        var heap = MinHeap<Candidate> { $0.precedes($1) }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = length[left] + length[right]
            let bytes = Array(text[start[left]..<(start[left] + size)])
            guard let id = tokenForText[bytes] else { return }
            heap.push(Candidate(score: scores[Int(id)], left: left, right: right, size: size))
        }
        for i in 1..<count { consider(i - 1, i) }
        while let c = heap.pop() {
            // Stale when either side merged since it was queued (lengths only grow, so sizes tell).
            guard length[c.left] > 0, length[c.right] > 0, length[c.left] + length[c.right] == c.size else { continue }
            length[c.left] += length[c.right]
            length[c.right] = 0
            next[c.left] = next[c.right]
            if next[c.right] >= 0 { previous[next[c.right]] = c.left }
            consider(previous[c.left], c.left)
            consider(c.left, next[c.left])
        }
        var i = 0
        while i >= 0 {
            let bytes = text[start[i]..<(start[i] + length[i])]
            if let id = tokenForText[Array(bytes)] {
                output.append(id)
            } else {
                for byte in bytes {
                    let id = byteToken[Int(byte)]
                    // llama.cpp fails outright here; an unknown token keeps the prompt usable.
                    if id >= 0 { output.append(id) } else if let unknown { output.append(unknown) }
                }
            }
            i = next[i]
        }
    }

    /// The length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte), as llama.cpp reads it.
    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }
}
