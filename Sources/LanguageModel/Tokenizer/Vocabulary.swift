// The tokenizer metadata of a GGUF file, read the way llama.cpp's `llama_vocab::impl::load` reads it:
// https://github.com/ggml-org/llama.cpp/blob/master/src/llama-vocab.cpp (keys: gguf-py/gguf/constants.py `Keys.Tokenizer`).

import Tensors

/// What kind of token an id is: `tokenizer.ggml.token_type`, llama.cpp's `llama_token_type`.
public enum TokenType: Int32, Sendable, Codable, Hashable {
    case undefined = 0
    case normal = 1
    /// The unknown token (`<unk>`).
    case unknown = 2
    /// Structure the model was trained with (`<|im_start|>`, `</s>`): never produced from plain text unless
    /// the caller asks to parse special tokens.
    case control = 3
    /// Added tokens that are always matched verbatim in text.
    case userDefined = 4
    case unused = 5
    /// SentencePiece byte fallback (`<0x0A>`).
    case byte = 6
}

/// The tokenization algorithm a GGUF names in `tokenizer.ggml.model`.
public enum TokenizerModel: String, Sendable, Codable, Hashable {
    /// Byte-level BPE over GPT-2's byte-to-unicode map, with a regex pre-tokenizer.
    case bytePairEncoding = "gpt2"
    /// SentencePiece BPE: score-driven merges over characters, "▁" for spaces, `<0xXX>` byte fallback.
    case sentencePiece = "llama"
}

/// A tokenizer vocabulary as a GGUF stores it, before any lookup tables are built.
public struct Vocabulary: Sendable {
    public var model: TokenizerModel
    /// `tokenizer.ggml.pre`, the pre-tokenizer's name (byte-level BPE only; nil means llama.cpp's "default").
    public var preTokenizer: String?
    /// Token texts, indexed by id.
    public var tokens: [String]
    /// One per token (all `.normal` when the GGUF has no `tokenizer.ggml.token_type`).
    public var types: [TokenType]
    /// SentencePiece merge scores, one per token (zeros when the GGUF has none).
    public var scores: [Float]
    /// BPE merges, `"left right"`, in rank order.
    public var merges: [String]
    public var bos: Int32?
    public var eos: Int32?
    public var eot: Int32?
    public var eom: Int32?
    public var unknown: Int32?
    public var padding: Int32?
    public var fimPrefix: Int32?
    public var fimSuffix: Int32?
    public var fimMiddle: Int32?
    public var fimPad: Int32?
    public var fimRepo: Int32?
    public var fimSeparator: Int32?
    public var addBOS: Bool
    public var addEOS: Bool
    /// SentencePiece: prefix text with a space (which becomes "▁") at the start and after each special token.
    public var addSpacePrefix: Bool
    /// `general.name`, which llama.cpp consults for per-model token attributes (Phi-3's right-stripping).
    public var modelName: String?

    /// A vocabulary from its parts, with llama.cpp's defaults for the model's special ids and flags.
    public init(
        model: TokenizerModel, preTokenizer: String? = nil, tokens: [String], types: [TokenType]? = nil,
        scores: [Float]? = nil, merges: [String] = [], modelName: String? = nil
    ) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.types = types ?? Array(repeating: .normal, count: tokens.count)
        self.scores = scores ?? Array(repeating: 0, count: tokens.count)
        self.merges = merges
        self.modelName = modelName
        // llama.cpp's defaults when the GGUF names no special ids (out-of-range defaults are dropped).
        let inRange = { (id: Int32) -> Int32? in id < tokens.count ? id : nil }
        switch model {
        case .sentencePiece:
            (bos, eos, unknown) = (inRange(1), inRange(2), inRange(0))
            (addBOS, addEOS, addSpacePrefix) = (true, false, true)
        case .bytePairEncoding:
            (bos, eos, unknown) = (inRange(11), inRange(11), nil)
            (addBOS, addEOS, addSpacePrefix) = (false, false, false)
        }
    }

    /// Reads `tokenizer.ggml.*` from a GGUF file.
    /// - Throws: `LanguageModelError.badVocabulary` when a field is missing or malformed,
    ///   `.unsupportedTokenizer` for a tokenizer model other than `gpt2` and `llama`.
    public init(_ gguf: GGUFFile) throws(LanguageModelError) {
        let key = "tokenizer.ggml."
        guard let modelValue = gguf[key + "model"] else {
            throw .badVocabulary("the GGUF has no \(key)model")
        }
        guard let modelName = modelValue.string else {
            throw .badVocabulary("\(key)model is a \(modelValue.type), not a string")
        }
        guard let model = TokenizerModel(rawValue: modelName) else {
            throw .unsupportedTokenizer("tokenizer model '\(modelName)' (Hark reads 'gpt2' and 'llama')")
        }
        let tokens = try Self.strings(gguf, key + "tokens", required: true) ?? []
        guard !tokens.isEmpty else { throw .badVocabulary("\(key)tokens is empty") }

        var types: [TokenType]?
        if let raw = try Self.integers(gguf, key + "token_type", count: tokens.count) {
            // llama.cpp reads any other value as "undefined".
            types = raw.map { TokenType(rawValue: Int32(truncatingIfNeeded: $0)) ?? .undefined }
        }
        var scores: [Float]?
        if let value = gguf[key + "scores"] {
            guard let array = value.array, array.elementType == .float32 || array.elementType == .int32,
                let floats = array.floats()
            else { throw .badVocabulary("\(key)scores must be an array of f32 or i32, not \(value)") }
            guard floats.count >= tokens.count else {
                throw .badVocabulary("\(key)scores has \(floats.count) entries for \(tokens.count) tokens")
            }
            scores = Array(floats.prefix(tokens.count))
        }
        var merges: [String] = []
        if model == .bytePairEncoding {
            guard let list = try Self.strings(gguf, key + "merges", required: true) else {
                throw .badVocabulary("the GGUF has no \(key)merges, which a BPE tokenizer needs")
            }
            merges = list
        }
        var pre: String?
        if let value = gguf[key + "pre"] {
            guard let name = value.string else { throw .badVocabulary("\(key)pre is \(value), not a string") }
            pre = name
        }
        self.init(
            model: model, preTokenizer: pre, tokens: tokens, types: types, scores: scores, merges: merges,
            modelName: gguf["general.name"]?.string)

        // Pre-tokenizers that change llama.cpp's defaults before the GGUF's own flags apply.
        if model == .bytePairEncoding, let pre, PreTokenizer.llama3Names.contains(pre) { addBOS = true }

        let ids: [(String, WritableKeyPath<Vocabulary, Int32?>)] = [
            ("bos_token_id", \.bos), ("eos_token_id", \.eos), ("eot_token_id", \.eot), ("eom_token_id", \.eom),
            ("unknown_token_id", \.unknown), ("padding_token_id", \.padding), ("fim_pre_token_id", \.fimPrefix),
            ("fim_suf_token_id", \.fimSuffix), ("fim_mid_token_id", \.fimMiddle), ("fim_pad_token_id", \.fimPad),
            ("fim_rep_token_id", \.fimRepo), ("fim_sep_token_id", \.fimSeparator),
            // Older names of the first three, which llama.cpp still reads.
            ("prefix_token_id", \.fimPrefix), ("suffix_token_id", \.fimSuffix), ("middle_token_id", \.fimMiddle),
        ]
        for (name, path) in ids {
            guard let value = gguf[key + name] else { continue }
            guard let id = value.integer, id >= 0 else {
                throw .badVocabulary("\(key)\(name) is \(value), not a token id")
            }
            // llama.cpp keeps its default when the id is out of range.
            if id < tokens.count { self[keyPath: path] = Int32(id) }
        }
        let flags: [(String, WritableKeyPath<Vocabulary, Bool>)] = [
            ("add_bos_token", \.addBOS), ("add_eos_token", \.addEOS), ("add_space_prefix", \.addSpacePrefix),
        ]
        for (name, path) in flags {
            guard let value = gguf[key + name] else { continue }
            guard let flag = value.bool else { throw .badVocabulary("\(key)\(name) is \(value), not a bool") }
            self[keyPath: path] = flag
        }
    }

    private static func strings(_ gguf: GGUFFile, _ key: String, required: Bool)
        throws(LanguageModelError) -> [String]?
    {
        guard let value = gguf[key] else {
            if required { throw .badVocabulary("the GGUF has no \(key)") }
            return nil
        }
        guard let array = value.array, let strings = array.strings() else {
            throw .badVocabulary("\(key) must be an array of strings, not \(value)")
        }
        return strings
    }

    private static func integers(_ gguf: GGUFFile, _ key: String, count: Int) throws(LanguageModelError) -> [Int]? {
        guard let value = gguf[key] else { return nil }
        guard let array = value.array, array.elementType == .int32, let ints = array.integers() else {
            throw .badVocabulary("\(key) must be an array of i32, not \(value)")
        }
        guard ints.count >= count else {
            throw .badVocabulary("\(key) has \(ints.count) entries for \(count) tokens")
        }
        return Array(ints.prefix(count))
    }
}
