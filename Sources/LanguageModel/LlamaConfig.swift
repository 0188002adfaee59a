// The hyperparameters of a Llama-family GGUF, read as llama.cpp reads them (llama-model.cpp
// `llama_model::load_hparams`, key names from llama-arch.cpp `LLM_KV_NAMES`): `<arch>.block_count`,
// `<arch>.attention.head_count_kv`, … Facts the metadata leaves out (attention biases, a separate output head,
// the vocabulary size) come from the tensor list, never from the file name.

import Compute
import Tensors

/// Sizes and settings of a Llama-family model (Llama, SmolLM, Mistral-as-llama, Qwen2).
public struct LlamaConfig: Codable, Sendable, Equatable {
    /// `general.architecture`: `llama` or `qwen2`.
    public var architecture: String
    /// Transformer blocks.
    public var blockCount: Int
    /// Model width D.
    public var embeddingLength: Int
    /// Hidden width F of the SwiGLU feed-forward.
    public var feedForwardLength: Int
    /// Query heads H.
    public var headCount: Int
    /// Key/value heads (grouped-query attention: H / headCountKV query heads share one).
    public var headCountKV: Int
    /// Width E of one head.
    public var headDimension: Int
    /// Leading features of a head that RoPE rotates.
    public var ropeDimensionCount: Int
    public var ropeFreqBase: Float
    /// Position scale of linear RoPE scaling (1 / factor), 1 without scaling.
    public var ropeFreqScale: Float
    /// How RoPE pairs features: ggml's normal mode for `llama`, NeoX's halves for `qwen2`
    /// (llama.cpp's `llama_model_rope_type`).
    public var ropeMode: RoPEMode
    public var rmsEpsilon: Float
    public var vocabularySize: Int
    /// Positions the model was trained for.
    public var contextLength: Int
    /// Whether Q, K and V projections carry biases (Qwen2).
    public var attentionBias: Bool
    /// Whether logits reuse the token embeddings (no `output.weight`).
    public var tiedOutput: Bool

    /// Architectures that are plain Llama blocks, and the RoPE pairing each uses in GGUF.
    static let ropeModes: [String: RoPEMode] = ["llama": .interleaved, "qwen2": .halves]

    /// Reads the configuration from a GGUF's metadata and tensor list.
    public init(_ gguf: GGUFFile) throws(LanguageModelError) {
        guard let arch = gguf["general.architecture"]?.string else {
            throw .badMetadata("no general.architecture")
        }
        guard let mode = LlamaConfig.ropeModes[arch] else { throw .unsupportedArchitecture(arch) }
        func integer(_ key: String) throws(LanguageModelError) -> Int {
            guard let v = gguf["\(arch).\(key)"]?.integer, v > 0 else { throw .badMetadata("no \(arch).\(key)") }
            return v
        }
        func optionalFloat(_ key: String) -> Float? { gguf["\(arch).\(key)"]?.double.map { Float($0) } }

        architecture = arch
        blockCount = try integer("block_count")
        embeddingLength = try integer("embedding_length")
        feedForwardLength = try integer("feed_forward_length")
        headCount = try integer("attention.head_count")
        headCountKV = gguf["\(arch).attention.head_count_kv"]?.integer ?? headCount
        headDimension = gguf["\(arch).attention.key_length"]?.integer ?? embeddingLength / headCount
        ropeDimensionCount = gguf["\(arch).rope.dimension_count"]?.integer ?? headDimension
        ropeFreqBase = optionalFloat("rope.freq_base") ?? 10_000
        ropeMode = mode
        rmsEpsilon = optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-5
        contextLength = try integer("context_length")
        guard headCountKV > 0, headCount % headCountKV == 0, headDimension > 0,
            ropeDimensionCount % 2 == 0, ropeDimensionCount <= headDimension
        else {
            throw .badMetadata(
                "\(headCount) heads, \(headCountKV) key/value heads of \(headDimension), "
                    + "rotary dimension \(ropeDimensionCount)")
        }
        if let v = gguf["\(arch).attention.value_length"]?.integer, v != headDimension {
            throw .badMetadata("value heads of \(v) differ from key heads of \(headDimension)")
        }

        // Linear scaling divides positions by the factor; the others (YaRN, Llama 3's frequency table) change
        // the frequencies per feature, which this runtime does not do.
        let scaling = gguf["\(arch).rope.scaling.type"]?.string ?? "none"
        switch scaling {
        case "none":
            ropeFreqScale = 1
        case "linear":
            let factor = optionalFloat("rope.scaling.factor") ?? 1
            guard factor > 0 else { throw .badMetadata("rope scaling factor \(factor)") }
            ropeFreqScale = 1 / factor
        default:
            throw .badMetadata("RoPE scaling '\(scaling)' is not supported (only linear)")
        }
        if gguf.tensorInfo(named: "rope_freqs.weight") != nil {
            throw .badMetadata("per-feature RoPE frequency factors (rope_freqs.weight) are not supported")
        }

        guard let embedding = gguf.tensorInfo(named: "token_embd.weight"), embedding.shape.count == 2 else {
            throw .badTensor("token_embd.weight is missing or not a matrix")
        }
        vocabularySize = embedding.shape[0]
        if let declared = gguf["\(arch).vocab_size"]?.integer, declared != vocabularySize {
            throw .badMetadata("\(arch).vocab_size \(declared) but token_embd.weight has \(vocabularySize) rows")
        }
        attentionBias = gguf.tensorInfo(named: "blk.0.attn_q.bias") != nil
        tiedOutput = gguf.tensorInfo(named: "output.weight") == nil
    }

    /// Query heads per key/value head.
    public var groupSize: Int { headCount / headCountKV }
    /// Width of the key (and value) projection: key/value heads × E.
    public var keyValueWidth: Int { headCountKV * headDimension }
    /// Width of the query projection: H × E.
    public var queryWidth: Int { headCount * headDimension }
}
