/// What can go wrong loading or running a language model, in words a user understands.
public enum LanguageModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The GGUF's `general.architecture` is not one this runtime implements.
    case unsupportedArchitecture(String)
    /// A tensor is stored in a type no kernel here reads.
    case unsupportedTensorType(tensor: String, type: String)
    /// A tensor the architecture needs is missing or has the wrong shape.
    case badTensor(String)
    /// Required metadata is missing or malformed.
    case badMetadata(String)
    /// The tokenizer metadata (`tokenizer.ggml.*`) is missing, of the wrong type or inconsistent.
    case badVocabulary(String)
    /// The GGUF names a tokenizer model (`tokenizer.ggml.model`) or pre-tokenizer (`tokenizer.ggml.pre`)
    /// this runtime does not implement.
    case unsupportedTokenizer(String)
    case emptyPrompt
    /// The prompt (plus what was already cached) does not fit the context.
    case promptTooLong(tokens: Int, context: Int)
    /// A token id outside the model's vocabulary.
    case invalidToken(Int32, vocabulary: Int)
    /// A `KVCache` made by another model (other layer count or key/value width).
    case cacheMismatch
    /// An op failed while running the model (a backend error, in its words).
    case compute(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let a): "unsupported model architecture '\(a)' (Hark runs the Llama family)"
        case .unsupportedTensorType(let t, let ty): "tensor \(t) has type \(ty), which Hark cannot read"
        case .badTensor(let m): "bad model tensor: \(m)"
        case .badMetadata(let m): "bad model metadata: \(m)"
        case .badVocabulary(let m): "bad tokenizer vocabulary: \(m)"
        case .unsupportedTokenizer(let m): "unsupported tokenizer: \(m)"
        case .emptyPrompt: "the prompt is empty"
        case .promptTooLong(let n, let c): "the prompt is \(n) tokens long but the context holds only \(c)"
        case .invalidToken(let t, let v): "token id \(t) lies outside the vocabulary of \(v)"
        case .cacheMismatch: "the key/value cache was made for another model"
        case .compute(let m): "the model failed to run: \(m)"
        }
    }
}
