// Text ↔ token ids the way llama.cpp does it (`llama_tokenize`, `llama_token_to_piece`):
// https://github.com/ggml-org/llama.cpp/blob/master/src/llama-vocab.cpp (`llama_vocab::impl::tokenize`,
// `tokenizer_st_partition`, `token_to_piece`, and the special-token and end-of-generation rules in `load`).

import Logging
import Tensors

/// A GGUF model's tokenizer: byte-level BPE (`gpt2`) or SentencePiece (`llama`), with the model's special tokens.
///
/// `encode` returns exactly the ids llama.cpp's `llama_tokenize(text, add_special, parse_special)` returns.
/// `piece` gives a token's raw bytes (a token may hold part of a UTF-8 character, so streaming callers join
/// bytes and emit only complete characters); `decode` joins pieces.
public struct Tokenizer: Sendable {
    /// llama.cpp's per-token attributes (`llama_token_attr`), of which the tokenizer needs a few.
    struct Attributes: OptionSet, Sendable, Hashable {
        let rawValue: UInt16
        static let unknown = Attributes(rawValue: 1 << 0)
        static let unused = Attributes(rawValue: 1 << 1)
        static let normal = Attributes(rawValue: 1 << 2)
        static let control = Attributes(rawValue: 1 << 3)
        static let userDefined = Attributes(rawValue: 1 << 4)
        static let byte = Attributes(rawValue: 1 << 5)
        static let leftStrip = Attributes(rawValue: 1 << 7)
        static let rightStrip = Attributes(rawValue: 1 << 8)

        init(rawValue: UInt16) { self.rawValue = rawValue }

        init(_ type: TokenType) {
            switch type {
            case .undefined: self = []
            case .normal: self = .normal
            case .unknown: self = .unknown
            case .control: self = .control
            case .userDefined: self = .userDefined
            case .unused: self = .unused
            case .byte: self = .byte
            }
        }
    }

    private enum Encoder: Sendable {
        case bytePair(BytePairEncoder, PreTokenizer)
        case sentencePiece(SentencePieceEncoder)
    }

    /// The tokenization algorithm.
    public let model: TokenizerModel
    /// Number of token ids.
    public var count: Int { texts.count }
    /// Beginning of sequence, if the model has one.
    public let bos: Int32?
    /// End of sequence, if the model has one.
    public let eos: Int32?
    /// End of turn (`<|eot_id|>`, `<|im_end|>`, …), from the GGUF or found by its text as llama.cpp does.
    public let eot: Int32?
    /// Whether `encode(addSpecial: true)` starts with `bos`.
    public let addsBOS: Bool
    /// Whether `encode(addSpecial: true)` ends with `eos`.
    public let addsEOS: Bool
    /// The ids that end generation (llama.cpp's `llama_vocab_is_eog`), in ascending order.
    public let endOfGeneration: [Int32]

    private let texts: [[UInt8]]
    private let pieces: [[UInt8]]
    private let attributes: [Attributes]
    /// Control, user-defined and unknown tokens, longest text first: the order llama.cpp matches them in.
    private let specialTokens: [Int32]
    private let endOfGenerationSet: Set<Int32>
    private let addSpacePrefix: Bool
    private let encoder: Encoder

    /// The tokenizer a GGUF file describes.
    /// - Throws: `LanguageModelError.badVocabulary` or `.unsupportedTokenizer`.
    public init(_ gguf: GGUFFile, logger: Logger = Logger(label: "hark.tokenizer")) throws(LanguageModelError) {
        try self.init(vocabulary: Vocabulary(gguf), logger: logger)
    }

    /// The tokenizer of a vocabulary.
    /// - Throws: `LanguageModelError.badVocabulary` when its parts disagree, `.unsupportedTokenizer` for an
    ///   unknown pre-tokenizer.
    public init(vocabulary v: Vocabulary, logger: Logger = Logger(label: "hark.tokenizer")) throws(LanguageModelError) {
        let n = v.tokens.count
        guard n > 0 else { throw .badVocabulary("the vocabulary has no tokens") }
        guard v.types.count == n else {
            throw .badVocabulary("\(v.types.count) token types for \(n) tokens")
        }
        guard v.scores.count == n else { throw .badVocabulary("\(v.scores.count) scores for \(n) tokens") }
        let ids = [
            ("bos", v.bos), ("eos", v.eos), ("eot", v.eot), ("eom", v.eom), ("unknown", v.unknown),
            ("padding", v.padding), ("fim prefix", v.fimPrefix), ("fim suffix", v.fimSuffix),
            ("fim middle", v.fimMiddle), ("fim pad", v.fimPad), ("fim repo", v.fimRepo),
            ("fim separator", v.fimSeparator),
        ]
        for (name, id) in ids {
            if let id, !(0..<Int32(n)).contains(id) {
                throw .badVocabulary("\(name) token id \(id) is outside the vocabulary of \(n)")
            }
        }
        var texts: [[UInt8]] = []
        texts.reserveCapacity(n)
        // Keyed by bytes: String equality is canonical equivalence, which would merge distinct tokens.
        var idForBytes: [[UInt8]: Int] = [:]
        idForBytes.reserveCapacity(n)
        for (id, text) in v.tokens.enumerated() {
            // llama.cpp renames empty tokens so they cannot match anything.
            let bytes = text.isEmpty ? Array("[EMPTY_\(id)]".utf8) : Array(text.utf8)
            texts.append(bytes)
            guard idForBytes.updateValue(id, forKey: bytes) == nil else {
                throw .badVocabulary("token \(id) '\(text)' appears earlier in the vocabulary too")
            }
        }
        let idForText = { (text: String) -> Int? in idForBytes[Array(text.utf8)] }
        if v.addBOS && v.bos == nil { throw .badVocabulary("add_bos_token is set but there is no BOS token") }
        if v.addEOS && v.eos == nil { throw .badVocabulary("add_eos_token is set but there is no EOS token") }

        var attributes = v.types.map(Attributes.init)
        // Special tokens the GGUF does not name, llama.cpp finds by their text and marks control. It takes the
        // first candidate its hash map yields, an arbitrary order; here the lowest id wins.
        func found(_ given: Int32?, _ candidates: [String]) -> Int32? {
            if let given { return given }
            guard let id = candidates.compactMap(idForText).min() else { return nil }
            attributes[id].insert(.control)
            return Int32(id)
        }
        let eot = found(v.eot, Self.endOfTurnTexts)
        let eom = found(v.eom, ["<|eom_id|>"])
        _ = found(
            v.fimPrefix,
            [
                "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
                "<|prefix|>",
            ])
        _ = found(
            v.fimSuffix,
            [
                "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
                "<|suffix|>",
            ])
        _ = found(
            v.fimMiddle,
            [
                "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
                "<|middle|>",
            ])
        let fimPad = found(v.fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"])
        let fimRepo = found(v.fimRepo, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
        let fimSeparator = found(v.fimSeparator, ["<|file_sep|>"])

        var endOfGeneration = Set([fimPad, fimRepo, fimSeparator, v.eos, eot, eom].compactMap { $0 })
        for text in Self.endOfGenerationTexts {
            if let id = idForText(text) {
                endOfGeneration.insert(Int32(id))
                attributes[id].insert(.control)
            }
        }
        // gpt-oss's channel markers are always rendered (llama.cpp makes them user-defined).
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = idForText(text) { attributes[id] = .userDefined }
        }
        // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation, when these exist.
        let eogTexts = Set(endOfGeneration.map { String(decoding: texts[Int($0)], as: UTF8.self) })
        if eogTexts.contains("<|end|>"),
            (eogTexts.contains("<|return|>") && eogTexts.contains("<|call|>"))
                || (eogTexts.contains("<|calls|>") && eogTexts.contains("<|flush|>")),
            let end = idForText("<|end|>")
        {
            endOfGeneration.remove(Int32(end))
            attributes[end] = .userDefined
        }

        let special = (0..<n).filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
        // Phi-3 strips whitespace after its special tokens (llama.cpp keys this on the model's name).
        if let name = v.modelName?.lowercased(), name.contains("phi-3") || name.contains("phi3") {
            for id in special { attributes[id].insert(.rightStrip) }
            if let id = idForText("</s>") { attributes[id].insert(.rightStrip) }
            for text in ["<unk>", "<s>", "<|endoftext|>"] {
                if let id = idForText(text) { attributes[id].remove(.rightStrip) }
            }
        }

        switch v.model {
        case .bytePairEncoding:
            let pre = try PreTokenizer(named: v.preTokenizer)
            if v.preTokenizer == nil {
                logger.warning("the GGUF names no pre-tokenizer (tokenizer.ggml.pre); using llama.cpp's 'default'")
            }
            encoder = .bytePair(
                try BytePairEncoder(tokens: v.tokens, merges: v.merges, ignoresMerges: pre.ignoresMerges), pre)
        case .sentencePiece:
            encoder = .sentencePiece(SentencePieceEncoder(tokens: texts, scores: v.scores, unknown: v.unknown))
        }

        self.model = v.model
        self.bos = v.bos
        self.eos = v.eos
        self.eot = eot
        self.addsBOS = v.addBOS
        self.addsEOS = v.addEOS
        self.addSpacePrefix = v.model == .sentencePiece && v.addSpacePrefix
        self.texts = texts
        self.attributes = attributes
        self.specialTokens = special.sorted { texts[$0].count > texts[$1].count }.map(Int32.init)
        self.endOfGenerationSet = endOfGeneration
        self.endOfGeneration = endOfGeneration.sorted()
        self.pieces = (0..<n).map { Self.piece(texts[$0], attributes[$0], model: v.model) }
    }

    /// Texts llama.cpp takes for the end-of-turn token when the GGUF names none.
    static let endOfTurnTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]

    /// Texts of tokens llama.cpp always treats as ending generation.
    static let endOfGenerationTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>",
    ]

    // MARK: - Encoding

    private enum Fragment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// The token ids of `text`, as llama.cpp's `llama_tokenize(text, addSpecial, parseSpecial)` gives them.
    /// - Parameters:
    ///   - addSpecial: add BOS (and EOS) where the model asks for them (`add_bos_token`, `add_eos_token`).
    ///   - parseSpecial: control tokens written in the text (`<|im_start|>`) become their single ids; when
    ///     false only user-defined tokens do, and control-token text is tokenized as plain text.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        let bytes = Array(text.utf8)
        var fragments: [Fragment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        fragments = partition(bytes, fragments, parseSpecial: parseSpecial)

        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 2)
        if addSpecial && addsBOS, let bos { output.append(bos) }
        switch encoder {
        case .bytePair(let bpe, let pre):
            var cache: [ArraySlice<UInt8>: [Int32]] = [:]
            for fragment in fragments {
                switch fragment {
                case .token(let id): output.append(id)
                case .text(let range): encodeBytePair(bytes[range], bpe, pre, &cache, into: &output)
                }
            }
        case .sentencePiece(let spm):
            var previousIsSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousIsSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count + 3)
                    if addSpacePrefix && previousIsSpecial { escaped += SentencePieceEncoder.spaceMarker }
                    for byte in bytes[range] {
                        if byte == 0x20 { escaped += SentencePieceEncoder.spaceMarker } else { escaped.append(byte) }
                    }
                    spm.encode(escaped, into: &output)
                    previousIsSpecial = false
                }
            }
        }
        if addSpecial && addsEOS, let eos { output.append(eos) }
        return output
    }

    /// Splits text fragments around special tokens written verbatim in them, longest token first.
    private func partition(_ bytes: [UInt8], _ input: [Fragment], parseSpecial: Bool) -> [Fragment] {
        var fragments = input
        for id in specialTokens {
            let attr = attributes[Int(id)]
            if !parseSpecial && !attr.isDisjoint(with: [.control, .unknown]) { continue }
            let needle = texts[Int(id)]
            guard let first = needle.first else { continue }
            var result: [Fragment] = []
            result.reserveCapacity(fragments.count)
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    result.append(fragment)
                    continue
                }
                var from = range.lowerBound
                var searchFrom = from
                while let match = Self.find(needle, first: first, in: bytes, from: searchFrom, to: range.upperBound) {
                    var leftEnd = match
                    if attr.contains(.leftStrip) {
                        while leftEnd > from && Self.isCSpace(bytes[leftEnd - 1]) { leftEnd -= 1 }
                    }
                    if leftEnd > from { result.append(.text(from..<leftEnd)) }
                    result.append(.token(id))
                    var rightStart = match + needle.count
                    if attr.contains(.rightStrip) {
                        while rightStart < range.upperBound && Self.isCSpace(bytes[rightStart]) { rightStart += 1 }
                    }
                    from = rightStart
                    searchFrom = rightStart
                }
                if from < range.upperBound { result.append(.text(from..<range.upperBound)) }
            }
            fragments = result
        }
        return fragments
    }

    /// C's `isspace` in the "C" locale, which llama.cpp strips with.
    private static func isCSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    private static func find(_ needle: [UInt8], first: UInt8, in bytes: [UInt8], from: Int, to end: Int) -> Int? {
        guard end - from >= needle.count else { return nil }
        var i = from
        let last = end - needle.count
        while i <= last {
            if bytes[i] == first {
                var j = 1
                while j < needle.count && bytes[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    private func encodeBytePair(
        _ text: ArraySlice<UInt8>, _ bpe: BytePairEncoder, _ pre: PreTokenizer,
        _ cache: inout [ArraySlice<UInt8>: [Int32]], into output: inout [Int32]
    ) {
        // Special tokens are whole UTF-8 strings, so fragments start and end on character boundaries.
        let string = String(decoding: text, as: UTF8.self)
        let scalars = Array(string.unicodeScalars)
        var offsets: [Int] = []
        offsets.reserveCapacity(scalars.count + 1)
        var offset = text.startIndex
        for scalar in scalars {
            offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        offsets.append(offset)
        for word in pre.split(scalars) {
            let bytes = text[offsets[word.lowerBound]..<offsets[word.upperBound]]
            if let ids = cache[bytes] {
                output += ids
                continue
            }
            var ids: [Int32] = []
            bpe.encode(bytes, into: &ids)
            cache[bytes] = ids
            output += ids
        }
    }

    // MARK: - Decoding

    /// The raw bytes of one token, as `llama_token_to_piece(token, special: true)` gives them: control and
    /// user-defined tokens as their text, byte tokens as their byte, unused tokens as nothing.
    public func piece(_ id: Int32) -> [UInt8] {
        guard id >= 0 && Int(id) < pieces.count else { return [] }
        return pieces[Int(id)]
    }

    /// The text of `ids`: their pieces joined (SentencePiece: without the space the encoder prefixed), with
    /// invalid UTF-8 repaired. For any text `s`, `decode(encode(s, addSpecial: false)) == s` with byte-level BPE.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// The bytes of `ids`, as `decode` joins them.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, id) in ids.enumerated() {
            var bytes = piece(id)[...]
            // The space SentencePiece prefixes to the text, as llama.cpp's detokenizer drops it.
            if i == 0 && addSpacePrefix && bytes.first == 0x20 { bytes = bytes.dropFirst() }
            out += bytes
        }
        return out
    }

    /// Whether `id` ends generation: EOS, EOT and the control tokens llama.cpp treats as such (`<|im_end|>`, …).
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationSet.contains(id) }

    /// Whether `id` is a control token (structure, not text).
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < attributes.count && attributes[Int(id)].contains(.control)
    }

    /// The id of the token whose text is exactly `text`, if any.
    public func id(of text: String) -> Int32? {
        let bytes = Array(text.utf8)
        return texts.firstIndex(of: bytes).map(Int32.init)
    }

    /// The stored text of a token (GPT-2-mapped for byte-level BPE, "▁" for spaces in SentencePiece).
    public func text(of id: Int32) -> String? {
        guard id >= 0 && Int(id) < texts.count else { return nil }
        return String(decoding: texts[Int(id)], as: UTF8.self)
    }

    private static func piece(_ text: [UInt8], _ attr: Attributes, model: TokenizerModel) -> [UInt8] {
        if !attr.isDisjoint(with: [.unknown, .control, .userDefined]) { return text }
        if attr.contains(.normal) {
            switch model {
            case .bytePairEncoding:
                var out: [UInt8] = []
                out.reserveCapacity(text.count)
                for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
                    if let byte = ByteUnicodeMap.byte(for: scalar) {
                        out.append(byte)
                    } else {
                        out += Array(String(scalar).utf8)
                    }
                }
                return out
            case .sentencePiece:
                return replacing(SentencePieceEncoder.spaceMarker, with: [0x20], in: text)
            }
        }
        if attr.contains(.byte), text.count == 6,
            let byte = UInt8(String(decoding: text[3..<5], as: UTF8.self), radix: 16)
        {
            return [byte]
        }
        return []
    }

    private static func replacing(_ marker: [UInt8], with replacement: [UInt8], in text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + marker.count <= text.count && text[i..<(i + marker.count)].elementsEqual(marker) {
                out += replacement
                i += marker.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}
