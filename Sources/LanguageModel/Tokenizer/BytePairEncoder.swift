// Byte-level BPE as llama.cpp runs it: https://github.com/ggml-org/llama.cpp/blob/master/src/llama-vocab.cpp
// (`llm_tokenizer_bpe_session::tokenize`), with GPT-2's byte-to-unicode map
// (https://github.com/openai/gpt-2/blob/master/src/encoder.py `bytes_to_unicode`; llama.cpp's unicode.cpp).

/// GPT-2's reversible map between bytes and printable characters, in which byte-level vocabularies are written.
enum ByteUnicodeMap {
    /// The scalar that stands for each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        // Printable Latin-1 bytes stand for themselves; the rest take scalars from U+0100 up, in byte order.
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each mapped scalar stands for, indexed by scalar value (all below U+0144); -1 for others.
    private static let byteTable: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The byte a mapped scalar stands for.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < byteTable.count, byteTable[v] >= 0 else { return nil }
        return UInt8(byteTable[v])
    }

    /// The bytes a vocabulary string stands for, or nil when it has a character outside the map.
    static func bytes(of text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            guard let byte = byte(for: scalar) else { return nil }
            out.append(byte)
        }
        return out
    }
}

/// Merges the bytes of one pre-tokenized word by rank.
///
/// Works on raw bytes rather than on GPT-2's mapped characters (the map is a bijection, so the merges are the
/// same): every string that takes part in a merge is interned as a symbol, and a merge is a table entry from a
/// pair of symbols to its rank and result.
struct BytePairEncoder: Sendable {
    private struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// (left symbol << 32 | right symbol) → merge.
    private let merges: [UInt64: Merge]
    /// Symbol → token id, or -1 when the symbol's bytes are not a token.
    private let tokenForSymbol: [Int32]
    /// Symbol → its bytes (for the byte fallback).
    private let symbolBytes: [[UInt8]]
    /// Token id of each byte's one-character mapped string, when it is ASCII and a token (llama.cpp's fallback
    /// looks up single bytes of the mapped text, so only ASCII can match).
    private let fallbackToken: [Int32]
    /// Whole words that are tokens skip merging (llama.cpp's `ignore_merges`).
    private let ignoresMerges: Bool
    /// Raw bytes → token id, for every token whose text is in the byte map.
    private let tokenForBytes: [[UInt8]: Int32]

    /// - Throws: `LanguageModelError.badVocabulary` for a merge without a separating space.
    init(tokens: [String], merges mergeList: [String], ignoresMerges: Bool) throws(LanguageModelError) {
        var tokenForBytes: [[UInt8]: Int32] = [:]
        tokenForBytes.reserveCapacity(tokens.count)
        for (id, text) in tokens.enumerated() {
            if let bytes = ByteUnicodeMap.bytes(of: text), !bytes.isEmpty { tokenForBytes[bytes] = Int32(id) }
        }
        var symbolIndex: [[UInt8]: Int32] = [:]
        var symbolBytes: [[UInt8]] = []
        func intern(_ bytes: [UInt8]) -> Int32 {
            if let s = symbolIndex[bytes] { return s }
            let s = Int32(symbolBytes.count)
            symbolIndex[bytes] = s
            symbolBytes.append(bytes)
            return s
        }
        for byte in 0..<256 { _ = intern([UInt8(byte)]) }

        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, line) in mergeList.enumerated() {
            // llama.cpp splits at the first space after the first byte.
            let utf8 = Array(line.utf8)
            guard utf8.count >= 2, let space = utf8[1...].firstIndex(of: 0x20) else {
                throw .badVocabulary("BPE merge \(rank) '\(line)' is not two parts separated by a space")
            }
            let leftText = String(decoding: utf8[..<space], as: UTF8.self)
            let rightText = String(decoding: utf8[(space + 1)...], as: UTF8.self)
            // A merge of characters outside the byte map can never apply to mapped text.
            guard let left = ByteUnicodeMap.bytes(of: leftText), let right = ByteUnicodeMap.bytes(of: rightText),
                !left.isEmpty, !right.isEmpty
            else { continue }
            let key = UInt64(UInt32(intern(left))) << 32 | UInt64(UInt32(intern(right)))
            // The first listing of a pair keeps its rank, as in llama.cpp's map emplace.
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), result: intern(left + right)) }
        }
        self.merges = merges
        self.symbolBytes = symbolBytes
        self.tokenForSymbol = symbolBytes.map { tokenForBytes[$0] ?? -1 }
        self.fallbackToken = (0..<256).map { byte in
            let scalar = ByteUnicodeMap.scalarForByte[byte]
            return scalar.isASCII ? tokenForBytes[[UInt8(byte)]] ?? -1 : -1
        }
        self.ignoresMerges = ignoresMerges
        self.tokenForBytes = tokenForBytes
    }

    /// Appends the tokens of one word (its raw UTF-8 bytes) to `output`.
    func encode(_ word: ArraySlice<UInt8>, into output: inout [Int32]) {
        guard !word.isEmpty else { return }
        if ignoresMerges, let id = tokenForBytes[Array(word)] {
            output.append(id)
            return
        }
        var symbols = word.map { Int32($0) }
        if symbols.count > 1 { merge(&symbols) }
        for symbol in symbols {
            let id = tokenForSymbol[Int(symbol)]
            if id >= 0 {
                output.append(id)
            } else {
                for byte in symbolBytes[Int(symbol)] where fallbackToken[Int(byte)] >= 0 {
                    output.append(fallbackToken[Int(byte)])
                }
            }
        }
    }

    /// Repeatedly merges the adjacent pair of lowest rank (the leftmost among equals), as llama.cpp's
    /// priority queue does. Short words scan; long ones (whitespace runs, long numbers) use a heap.
    private func merge(_ symbols: inout [Int32]) {
        if symbols.count <= 48 {
            while symbols.count > 1 {
                var best = -1
                var bestMerge = Merge(rank: .max, result: 0)
                for i in 0..<(symbols.count - 1) {
                    if let m = merges[Self.key(symbols[i], symbols[i + 1])], m.rank < bestMerge.rank {
                        best = i
                        bestMerge = m
                    }
                }
                guard best >= 0 else { return }
                symbols[best] = bestMerge.result
                symbols.remove(at: best + 1)
            }
            return
        }
        mergeWithHeap(&symbols)
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
    }

    private struct Candidate {
        let rank: Int32
        let left: Int
        let right: Int
        let leftSymbol: Int32
        let rightSymbol: Int32

        func precedes(_ other: Candidate) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    private func mergeWithHeap(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = Array(1...n)
        next[n - 1] = -1
        var previous = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap<Candidate> { $0.precedes($1) }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, let m = merges[Self.key(symbols[left], symbols[right])] else { return }
            heap.push(
                Candidate(
                    rank: m.rank, left: left, right: right, leftSymbol: symbols[left], rightSymbol: symbols[right]))
        }
        for i in 0..<(n - 1) { consider(i, i + 1) }
        while let c = heap.pop() {
            // Stale when either side has merged since (a symbol only grows, so an unchanged symbol is current).
            guard alive[c.left], alive[c.right], symbols[c.left] == c.leftSymbol, symbols[c.right] == c.rightSymbol,
                let m = merges[Self.key(c.leftSymbol, c.rightSymbol)]
            else { continue }
            symbols[c.left] = m.result
            alive[c.right] = false
            next[c.left] = next[c.right]
            if next[c.right] >= 0 { previous[next[c.right]] = c.left }
            consider(previous[c.left], c.left)
            consider(c.left, next[c.left])
        }
        var merged: [Int32] = []
        var i = 0
        while i >= 0 {
            merged.append(symbols[i])
            i = next[i]
        }
        symbols = merged
    }
}

/// A binary heap ordered by `precedes` (the first element precedes all others).
struct MinHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    init(precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < items.count && precedes(items[left], items[first]) { first = left }
            if right < items.count && precedes(items[right], items[first]) { first = right }
            if first == parent { break }
            items.swapAt(parent, first)
            parent = first
        }
        return top
    }
}
