// A Llama-family decoder (Llama, SmolLM2, Qwen2) over the backend layer, reading GGUF weights.
// Follows llama.cpp's graph for these architectures (src/llama-model.cpp `llm_build_llama`, `llm_build_qwen2`:
// https://github.com/ggml-org/llama.cpp/blob/master/src/llama-model.cpp): pre-norm blocks of RMSNorm →
// grouped-query attention with rotary positions → residual → RMSNorm → SwiGLU → residual, a final RMSNorm and
// the output head (tied to the token embeddings when the file has no `output.weight`).
//
// Shapes: D = width, H = query heads, G = key/value heads, E = head width, F = feed-forward width,
//         V = vocabulary, N = tokens in a call, P = positions already cached, C = cache capacity.

import Compute
import Tensors

/// A loaded Llama-family model: every weight prepared for the engine's backend once, at load; quantized
/// weights stay in their blocks.
public struct LlamaModel: Sendable {
    /// Load-time choices.
    public struct Options: Sendable {
        /// The longest context `makeCache()` gives by default, so a model trained for 128k positions does not
        /// reserve a cache for all of them.
        public var contextLimit: Int
        /// Whose rounding the CPU follows. By default llama.cpp's where the CPU has AVX-512 (`Arithmetic.llamaDefault`),
        /// so a GGUF answers here exactly as in llama.cpp: the same logits bit for bit.
        public var arithmetic: Arithmetic

        public init(contextLimit: Int = 4096, arithmetic: Arithmetic = .llamaDefault) {
            self.contextLimit = contextLimit
            self.arithmetic = arithmetic
        }
    }

    /// Products of one input: stacked into one weight when they share an element type (one call reads the input
    /// once and, decoding, splits one product across the cores instead of several small ones), else kept apart.
    enum Products: Sendable {
        case stacked(PreparedWeight, bias: Tensor?)
        case apart([PreparedWeight], biases: [Tensor?])
    }

    struct Layer: Sendable {
        let attentionNorm: Tensor  // [D]
        let qkv: Products  // [H·E | G·E | G·E, D]
        let output: PreparedWeight  // [D, H·E]
        let ffnNorm: Tensor  // [D]
        let gateUp: Products  // [F | F, D]
        let down: PreparedWeight  // [D, F]
    }

    public let config: LlamaConfig
    public let options: Options
    public let engine: ComputeEngine
    let tokenEmbedding: PreparedWeight  // [V, D], looked up
    let layers: [Layer]
    let outputNorm: Tensor  // [D]
    let outputHead: PreparedWeight  // [V, D], logits = x · Wᵀ

    // MARK: - Loading

    /// Opens the GGUF at `path` and loads it.
    /// - Throws: `ModelFileError` for a file that is not a readable GGUF, else `LanguageModelError`.
    public init(path: String, engine: ComputeEngine, options: Options = Options()) throws {
        try self.init(file: GGUFFile(path: path), engine: engine, options: options)
    }

    /// Loads the model a parsed GGUF holds and prepares its weights for `engine`.
    public init(file: GGUFFile, engine: ComputeEngine, options: Options = Options()) throws(LanguageModelError) {
        let config = try LlamaConfig(file)
        let (d, f, v) = (config.embeddingLength, config.feedForwardLength, config.vocabularySize)
        let (qWidth, kvWidth) = (config.queryWidth, config.keyValueWidth)

        func tensor(_ name: String, _ shape: [Int]) throws(LanguageModelError) -> Tensor {
            guard let t = file.tensor(named: name) else { throw .badTensor("\(name) is missing") }
            guard t.shape == shape else { throw .badTensor("\(name) is \(t.shape), expected \(shape)") }
            return t
        }
        func vector(_ name: String, _ n: Int) throws(LanguageModelError) -> Tensor {
            let t = try tensor(name, [n])
            guard t.dtype.isFloatingPoint else {
                throw .unsupportedTensorType(tensor: name, type: t.dtype.description)
            }
            return t.toF32()
        }
        func check(_ name: String, _ t: Tensor, for use: WeightUse) throws(LanguageModelError) {
            // The CPU runs whatever the bound backend declines, so it must have a kernel for the type.
            let op: Op =
                use == .embedding
                ? .embedding(vocab: t.shape[0], dim: t.shape[1], count: 1, table: t.dtype)
                : .linear(m: 1, k: t.shape[1], n: t.shape[0], weight: t.dtype)
            guard engine.cpu.supports(op) else {
                throw .unsupportedTensorType(tensor: name, type: t.dtype.description)
            }
        }
        func prepare(_ name: String, _ t: Tensor, for use: WeightUse) throws(LanguageModelError) -> PreparedWeight {
            do {
                return try engine.prepare(t, for: use)
            } catch {
                throw .badTensor("\(name): \(error.message)")
            }
        }
        func weight(_ name: String, _ shape: [Int], for use: WeightUse) throws(LanguageModelError) -> PreparedWeight {
            let t = try tensor(name, shape)
            try check(name, t, for: use)
            return try prepare(name, t, for: use)
        }
        /// Linear weights that read the same input, stacked row-wise when they share a type.
        func products(_ parts: [(name: String, rows: Int, bias: String?)]) throws(LanguageModelError) -> Products {
            var weights: [Tensor] = []
            var biases: [Tensor?] = []
            for part in parts {
                let t = try tensor(part.name, [part.rows, d])
                try check(part.name, t, for: .linear)
                weights.append(t)
                biases.append(try part.bias.map { name throws(LanguageModelError) in try vector(name, part.rows) })
            }
            let names = parts.map(\.name).joined(separator: " + ")
            if let stacked = Tensor(stackingRows: weights) {
                let bias: Tensor? =
                    biases.allSatisfy({ $0 == nil })
                    ? nil
                    : Tensor(
                        shape: [parts.reduce(0) { $0 + $1.rows }],
                        floats: zip(parts, biases).flatMap { part, b in
                            b?.floats() ?? Array(repeating: 0, count: part.rows)
                        })
                return .stacked(try prepare(names, stacked, for: .linear), bias: bias)
            }
            var prepared: [PreparedWeight] = []
            for (part, t) in zip(parts, weights) { prepared.append(try prepare(part.name, t, for: .linear)) }
            return .apart(prepared, biases: biases)
        }

        self.config = config
        self.options = options
        self.engine = engine
        tokenEmbedding = try weight("token_embd.weight", [v, d], for: .embedding)
        var layers: [Layer] = []
        for i in 0..<config.blockCount {
            let p = "blk.\(i)"
            let bias = config.attentionBias
            layers.append(
                Layer(
                    attentionNorm: try vector("\(p).attn_norm.weight", d),
                    qkv: try products([
                        ("\(p).attn_q.weight", qWidth, bias ? "\(p).attn_q.bias" : nil),
                        ("\(p).attn_k.weight", kvWidth, bias ? "\(p).attn_k.bias" : nil),
                        ("\(p).attn_v.weight", kvWidth, bias ? "\(p).attn_v.bias" : nil),
                    ]),
                    output: try weight("\(p).attn_output.weight", [d, qWidth], for: .linear),
                    ffnNorm: try vector("\(p).ffn_norm.weight", d),
                    gateUp: try products([
                        ("\(p).ffn_gate.weight", f, nil), ("\(p).ffn_up.weight", f, nil),
                    ]),
                    down: try weight("\(p).ffn_down.weight", [d, f], for: .linear)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", d)
        outputHead = try weight(config.tiedOutput ? "token_embd.weight" : "output.weight", [v, d], for: .linear)
    }

    // MARK: - Running

    /// An empty cache for `contextLength` positions (default: the model's context, capped by
    /// `options.contextLimit`).
    public func makeCache(contextLength: Int? = nil) -> KVCache {
        let capacity = max(1, contextLength ?? min(config.contextLength, options.contextLimit))
        return KVCache(layers: config.blockCount, capacity: capacity, width: config.keyValueWidth)
    }

    /// Runs `tokens` at positions `cache.count...`, appends their keys and values to the cache, and returns the
    /// logits `[1, V]` of the last token (`[N, V]`, one row per token, with `allLogits`).
    ///
    /// Many tokens (a prompt) go through matrix-matrix products, one token (decoding) through matrix-vector ones.
    /// - Throws: `.emptyPrompt` for no tokens, `.promptTooLong` when the cache cannot hold them (the cache is then
    ///   unchanged), `.invalidToken` for an id outside the vocabulary, `.cacheMismatch` for another model's cache.
    public func forward(_ tokens: [Int32], cache: inout KVCache, allLogits: Bool = false) throws(LanguageModelError)
        -> Tensor
    {
        let c = config
        let n = tokens.count
        let past = cache.count
        guard n > 0 else { throw .emptyPrompt }
        guard past + n <= cache.capacity else { throw .promptTooLong(tokens: past + n, context: cache.capacity) }
        guard cache.width == c.keyValueWidth, cache.keys.count == c.blockCount else {
            throw .cacheMismatch
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw .invalidToken(bad, vocabulary: c.vocabularySize)
        }
        do {
            // llama.cpp evaluates a prompt in micro-batches of 512 tokens, and a batch's attention sums in another
            // order than one row's: in its arithmetic, so does Hark.
            let step = options.arithmetic == .ggml ? Self.microBatch : n
            var rows: [Tensor] = []
            for start in stride(from: 0, to: n, by: step) {
                let part = Array(tokens[start..<min(n, start + step)])
                let last = start + step >= n
                var s =
                    cache.scratch.take().flatMap { $0.tokens == part.count ? $0 : nil }
                    ?? LlamaScratch(config: c, tokens: part.count)
                defer { cache.scratch = s }
                let logits = try run(part, cache: &cache, scratch: &s, allLogits: allLogits, logits: allLogits || last)
                if let logits { rows.append(logits) }
            }
            return rows.count == 1 ? rows[0] : Tensor(stackingRows: rows)!
        } catch {
            throw .compute(error.message)
        }
    }

    /// llama.cpp's default micro-batch (`n_ubatch`).
    static let microBatch = 512

    /// One micro-batch; the logits only when `logits`.
    private func run(
        _ tokens: [Int32], cache: inout KVCache, scratch s: inout LlamaScratch, allLogits: Bool, logits wanted: Bool
    ) throws(ComputeError) -> Tensor? {
        let c = config
        let a = options.arithmetic
        let n = tokens.count
        let past = cache.count
        let keyCount = past + n
        let (heads, kvHeads, e) = (c.headCount, c.headCountKV, c.headDimension)
        let positions = (0..<n).map { Int32(past + $0) }
        let scale = 1 / Float(e).squareRoot()
        // Per head: queries [N, E] (rows H·E apart), keys and values [P+N, E] (rows G·E apart); query heads
        // h·groupSize ..< (h+1)·groupSize share key/value head h, as `attention` pairs batches. The fused op
        // keeps each head's scores in cache instead of a [H, N, P+N] tensor per call.
        let queryView = MatrixView(batch: heads, rows: n, cols: e, rowStride: heads * e, batchStride: e)
        let cacheView = MatrixView(batch: kvHeads, rows: keyCount, cols: e, rowStride: kvHeads * e, batchStride: e)

        try engine.embedding(tokenEmbedding, ids: tokens, into: &s.x)
        for (i, layer) in layers.enumerated() {
            // Attention: x += Wo · attend(rope(Wq·h), rope(Wk·h), Wv·h), h = norm(x).
            try s.normalize(gamma: layer.attentionNorm, epsilon: c.rmsEpsilon, engine: engine, arithmetic: a)
            try s.project(layer.qkv, into: [\.q, \.k, \.v], stacked: \.qkv, engine: engine, arithmetic: a)
            try engine.rope(
                &s.q, positions: positions, rotaryDim: c.ropeDimensionCount, base: c.ropeFreqBase,
                freqScale: c.ropeFreqScale, mode: c.ropeMode, arithmetic: a)
            try engine.rope(
                &s.k, positions: positions, rotaryDim: c.ropeDimensionCount, base: c.ropeFreqBase,
                freqScale: c.ropeFreqScale, mode: c.ropeMode, arithmetic: a)
            cache.write(layer: i, keys: s.k, values: s.v, rows: n)
            try engine.attention(
                s.q, queryView, cache.keys[i], cacheView, cache.values[i], cacheView, scale: scale,
                causalOffset: past, into: &s.attended, queryView, arithmetic: a)
            try engine.linear(s.attended, layer.output, into: &s.out, arithmetic: a)
            try engine.add(&s.x, s.out)

            // Feed-forward: x += W_down · (silu(W_gate·h) ⊙ W_up·h), h = norm(x).
            try s.normalize(gamma: layer.ffnNorm, epsilon: c.rmsEpsilon, engine: engine, arithmetic: a)
            try s.project(layer.gateUp, into: [\.gate, \.up], stacked: \.gateUp, engine: engine, arithmetic: a)
            try engine.swiglu(&s.gate, s.up, arithmetic: a)
            try engine.linear(s.gate, layer.down, into: &s.out, arithmetic: a)
            try engine.add(&s.x, s.out)
        }
        cache.advance(by: n)
        guard wanted else { return nil }

        var last: Tensor
        if allLogits || n == 1 {
            last = s.x
        } else {
            let d = c.embeddingLength
            last = s.x.withUnsafeFloats { Tensor(shape: [1, d], floats: Array($0[((n - 1) * d)...])) }
        }
        try engine.rmsNorm(&last, gamma: outputNorm, epsilon: c.rmsEpsilon, arithmetic: a)
        var logits = Tensor(zeros: [last.shape[0], c.vocabularySize])
        try engine.linear(last, outputHead, into: &logits, arithmetic: a)
        return logits
    }
}

/// The activations of one `forward` call, reused layer after layer and, through the cache, call after call
/// while the token count stays the same (decoding).
struct LlamaScratch: Sendable {
    let tokens: Int
    var x: Tensor  // [N, D] residual stream
    var h: Tensor  // [N, D] normalised
    var q: Tensor  // [N, H, E]
    var k: Tensor  // [N, G, E]
    var v: Tensor  // [N, G·E]
    var attended: Tensor  // [N, H·E]
    var out: Tensor  // [N, D]
    var gate: Tensor  // [N, F]
    var up: Tensor  // [N, F]
    var qkv: Tensor  // [N, H·E + 2·G·E], the stacked product before it is split
    var gateUp: Tensor  // [N, 2·F]

    init(config c: LlamaConfig, tokens n: Int) {
        tokens = n
        x = Tensor(zeros: [n, c.embeddingLength])
        h = Tensor(zeros: [n, c.embeddingLength])
        q = Tensor(zeros: [n, c.headCount, c.headDimension])
        k = Tensor(zeros: [n, c.headCountKV, c.headDimension])
        v = Tensor(zeros: [n, c.keyValueWidth])
        attended = Tensor(zeros: [n, c.queryWidth])
        out = Tensor(zeros: [n, c.embeddingLength])
        gate = Tensor(zeros: [n, c.feedForwardLength])
        up = Tensor(zeros: [n, c.feedForwardLength])
        qkv = Tensor(zeros: [n, c.queryWidth + 2 * c.keyValueWidth])
        gateUp = Tensor(zeros: [n, 2 * c.feedForwardLength])
    }

    /// parts[i] = h · W_iᵀ (+ b_i): one product into `stacked`, whose columns are then split among the parts, or
    /// one product per part.
    mutating func project(
        _ products: LlamaModel.Products, into parts: [WritableKeyPath<LlamaScratch, Tensor>],
        stacked: WritableKeyPath<LlamaScratch, Tensor>, engine: ComputeEngine, arithmetic: Arithmetic
    ) throws(ComputeError) {
        switch products {
        case .apart(let weights, let biases):
            for (i, part) in parts.enumerated() {
                try engine.linear(h, weights[i], bias: biases[i], into: &self[keyPath: part], arithmetic: arithmetic)
            }
        case .stacked(let weight, let bias):
            try engine.linear(h, weight, bias: bias, into: &self[keyPath: stacked], arithmetic: arithmetic)
            let all = self[keyPath: stacked]
            let (width, n) = (all.shape[1], tokens)
            var column = 0
            all.withUnsafeFloats { src in
                for part in parts {
                    let w = self[keyPath: part].count / n
                    self[keyPath: part].withUnsafeMutableFloats { dst in
                        for r in 0..<n {
                            (dst.baseAddress! + r * w).update(from: src.baseAddress! + r * width + column, count: w)
                        }
                    }
                    column += w
                }
            }
        }
    }

    /// h = rmsNorm(x) · gamma, written into h's buffer (x stays the residual).
    mutating func normalize(gamma: Tensor, epsilon: Float, engine: ComputeEngine, arithmetic: Arithmetic)
        throws(ComputeError)
    {
        x.withUnsafeFloats { src in
            h.withUnsafeMutableFloats { $0.baseAddress!.update(from: src.baseAddress!, count: src.count) }
        }
        try engine.rmsNorm(&h, gamma: gamma, epsilon: epsilon, arithmetic: arithmetic)
    }
}

extension LlamaModel {
    /// Greedy decoding: feeds `prompt` after what `cache` holds, then repeatedly the most likely next token (the
    /// first on ties, as NumPy's argmax), up to `maxTokens` tokens or through the first token in `stop`.
    /// Returns the generated ids (a stop token included). A baseline for parity tests and benchmarks; sampling
    /// lives with the chat layer.
    public func greedy(_ prompt: [Int32], maxTokens: Int, stop: Set<Int32> = [], cache: inout KVCache)
        throws(LanguageModelError) -> [Int32]
    {
        var logits = try forward(prompt, cache: &cache)
        var reply: [Int32] = []
        while reply.count < maxTokens {
            let next = Self.argmax(logits)
            reply.append(next)
            if stop.contains(next) || reply.count == maxTokens { break }
            logits = try forward([next], cache: &cache)
        }
        return reply
    }

    /// The index of the largest of the last row of `logits`, the first one on ties.
    public static func argmax(_ logits: Tensor) -> Int32 {
        let v = logits.shape.last ?? 0
        return logits.withUnsafeFloats { p in
            var best = p.count - v
            for i in (p.count - v)..<p.count where p[i] > p[best] { best = i }
            return Int32(best - (p.count - v))
        }
    }
}
