// Whisper's transformer, written over the backend layer, reading CTranslate2's WhisperSpec weights.
// Follows openai/whisper's model.py (https://github.com/openai/whisper/blob/main/whisper/model.py) and
// CTranslate2's layout (python/ctranslate2/specs/whisper_spec.py; research/whisper.md §3.3):
// self-attention Q|K|V fused in `linear_0`, cross-attention K|V fused in `linear_1`, the output projection
// tied to the token embeddings.
//
// Shapes: M = mel bins, T = mel frames (3000), A = audio positions (T/2 = 1500), D = width, H = heads,
//         E = D/H (head width), N = tokens in a decoder call, P = cached tokens, V = vocabulary.

import Compute
import Foundation
import Tensors

/// Sizes of a Whisper model, read from its weights' shapes (never from its name).
public struct WhisperHyperparameters: Codable, Sendable, Equatable {
    public var melCount: Int
    public var audioContext: Int
    public var width: Int
    public var encoderHeads: Int
    public var encoderLayers: Int
    public var textContext: Int
    public var decoderHeads: Int
    public var decoderLayers: Int
    public var vocabularySize: Int
}

/// How the decoder's per-token data is stored: faster-whisper's `compute_type`, for the part of the model where
/// it pays. Decoding a token is bound by memory traffic (tiny.en: the 51864×384 output projection is 40 MB in f16,
/// the cross-attention keys and values 18 MB in f32), so `int8` keeps the decoder's linear layers and the output
/// projection in q8_0 blocks (one f16 scale per 32 weights: 34 bytes instead of 64), read by the CPU's fused
/// dequant-dot kernel, and the cross-attention keys and values in f16: about 75 MB per token become 39 MB.
/// The encoder stays in f32: its products are matrix-matrix at sgemm speed, where q8_0 would only add a
/// dequantization.
public enum WhisperComputeType: String, Codable, Sendable, CaseIterable {
    /// float32 for now (see `resolved(for:)`).
    case auto
    /// Every weight converted to f32 (f16 copies for matrix-vector products): CTranslate2 float32's numbers.
    case float32
    /// The decoder's linear layers and output projection in q8_0.
    case int8

    /// The type `auto` stands for on `engine`.
    public func resolved(for engine: ComputeEngine) -> WhisperComputeType {
        // float32 until int8 is accurate enough: on the 25 test clips int8 gave 9.11 % WER against float32's
        // 8.44 % (AccuracyTests' budget is +0.5 points), though it about halves a token's memory traffic.
        self == .auto ? .float32 : self
    }
}

/// Errors loading a Whisper model: a missing or misshapen weight, named.
public struct WhisperError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A loaded Whisper model: weights prepared for the engine's backend once, at load.
public struct WhisperModel: Sendable {
    /// One pre-norm attention or MLP sub-block's weights.
    struct Linear: Sendable {
        let weight: PreparedWeight
        let bias: Tensor?
    }

    struct Norm: Sendable {
        let gamma: Tensor
        let beta: Tensor
    }

    struct EncoderLayer: Sendable {
        let attentionNorm: Norm
        let qkv: Linear  // [3D, D]
        let attentionOut: Linear  // [D, D]
        let mlpNorm: Norm
        let fc1: Linear  // [4D, D]
        let fc2: Linear  // [D, 4D]
    }

    struct DecoderLayer: Sendable {
        let selfNorm: Norm
        let selfQKV: Linear  // [3D, D]
        let selfOut: Linear  // [D, D]
        let crossNorm: Norm
        let crossQ: Linear  // [D, D]
        let crossKV: Linear  // [2D, D]
        let crossOut: Linear  // [D, D]
        let mlpNorm: Norm
        let fc1: Linear
        let fc2: Linear
    }

    public let hyperparameters: WhisperHyperparameters
    public let engine: ComputeEngine
    /// How the decoder's weights are stored (never `auto`).
    public let computeType: WhisperComputeType
    let conv1: Linear  // [D, M, 3]
    let conv2: Linear  // [D, D, 3]
    let audioPositions: Tensor  // [A, D]
    let encoder: [EncoderLayer]
    let encoderNorm: Norm
    let tokenEmbedding: PreparedWeight  // [V, D], looked up
    let outputProjection: PreparedWeight  // [V, D], the same weights used as logits = x · Eᵀ
    let textPositions: Tensor  // [textContext, D]
    let decoder: [DecoderLayer]
    let decoderNorm: Norm

    // MARK: - Loading

    /// Loads the weights of a CTranslate2 Whisper model and prepares them for `engine`'s backend, the
    /// decoder's as `computeType` says (float32 by default: the numbers the parity tests hold to CTranslate2).
    public init(_ file: CTranslate2Model, engine: ComputeEngine, computeType: WhisperComputeType = .float32) throws {
        let decoderType = computeType.resolved(for: engine)
        func tensor(_ name: String) throws -> Tensor {
            guard let t = file.tensor(named: name) else {
                throw WhisperError("\(file.file.path): no variable '\(name)': not a CTranslate2 Whisper model")
            }
            return t
        }
        func vector(_ name: String) throws -> Tensor { try tensor(name).toF32() }
        func linear(_ prefix: String, conv: Conv1DParams? = nil, perToken: Bool = false) throws -> Linear {
            var w = try tensor("\(prefix)/weight")
            let use: WeightUse = conv.map { .conv1d($0) } ?? .linear
            if perToken && decoderType == .int8 { w = Self.q8(w) }
            return Linear(
                weight: try engine.prepare(w, for: use),
                bias: file.tensor(named: "\(prefix)/bias").map { $0.toF32() })
        }
        func norm(_ prefix: String) throws -> Norm {
            Norm(gamma: try vector("\(prefix)/gamma"), beta: try vector("\(prefix)/beta"))
        }
        guard file.specName == "WhisperSpec" else {
            throw WhisperError("\(file.file.path): a \(file.specName) model, not Whisper")
        }
        let conv1Weight = try tensor("encoder/conv1/weight")
        let embedding = try tensor("decoder/embeddings/weight")
        let audio = try tensor("encoder/position_encodings/encodings")
        let text = try tensor("decoder/position_encodings/encodings")
        guard conv1Weight.rank == 3, embedding.rank == 2, audio.rank == 2, text.rank == 2 else {
            throw WhisperError("\(file.file.path): unexpected Whisper weight shapes")
        }
        let width = conv1Weight.shape[0]
        let encoderLayers = (0...).prefix { file.tensor(named: "encoder/layer_\($0)/ffn/linear_0/weight") != nil }.count
        let decoderLayers = (0...).prefix { file.tensor(named: "decoder/layer_\($0)/ffn/linear_0/weight") != nil }.count
        hyperparameters = WhisperHyperparameters(
            melCount: conv1Weight.shape[1], audioContext: audio.shape[0], width: width,
            encoderHeads: file.integer(named: "encoder/num_heads") ?? width / 64, encoderLayers: encoderLayers,
            textContext: text.shape[0], decoderHeads: file.integer(named: "decoder/num_heads") ?? width / 64,
            decoderLayers: decoderLayers, vocabularySize: embedding.shape[0])
        self.engine = engine
        self.computeType = decoderType
        conv1 = try linear("encoder/conv1", conv: Conv1DParams(padding: 1))
        conv2 = try linear("encoder/conv2", conv: Conv1DParams(stride: 2, padding: 1))
        audioPositions = audio.toF32()
        encoder = try (0..<encoderLayers).map { i in
            let p = "encoder/layer_\(i)"
            return EncoderLayer(
                attentionNorm: try norm("\(p)/self_attention/layer_norm"),
                qkv: try linear("\(p)/self_attention/linear_0"),
                attentionOut: try linear("\(p)/self_attention/linear_1"),
                mlpNorm: try norm("\(p)/ffn/layer_norm"),
                fc1: try linear("\(p)/ffn/linear_0"), fc2: try linear("\(p)/ffn/linear_1"))
        }
        encoderNorm = try norm("encoder/layer_norm")
        tokenEmbedding = try engine.prepare(embedding, for: .embedding)
        let projection = try tensor("decoder/projection/weight")
        outputProjection = try engine.prepare(decoderType == .int8 ? Self.q8(projection) : projection, for: .linear)
        textPositions = text.toF32()
        decoder = try (0..<decoderLayers).map { i in
            let p = "decoder/layer_\(i)"
            return DecoderLayer(
                selfNorm: try norm("\(p)/self_attention/layer_norm"),
                selfQKV: try linear("\(p)/self_attention/linear_0", perToken: true),
                selfOut: try linear("\(p)/self_attention/linear_1", perToken: true),
                crossNorm: try norm("\(p)/attention/layer_norm"),
                crossQ: try linear("\(p)/attention/linear_0", perToken: true),
                // Once per window over all audio positions: a matrix product, kept in f32.
                crossKV: try linear("\(p)/attention/linear_1"),
                crossOut: try linear("\(p)/attention/linear_2", perToken: true),
                mlpNorm: try norm("\(p)/ffn/layer_norm"),
                fc1: try linear("\(p)/ffn/linear_0", perToken: true),
                fc2: try linear("\(p)/ffn/linear_1", perToken: true))
        }
        decoderNorm = try norm("decoder/layer_norm")
    }

    /// `t` in f16.
    static func halved(_ t: Tensor) -> Tensor {
        var h = Tensor(zeros: t.shape, dtype: .f16)
        t.withUnsafeFloats { src in
            h.withUnsafeMutableBytes { raw in
                let dst = raw.bindMemory(to: Float16.self)
                for i in src.indices { dst[i] = Float16(src[i]) }
            }
        }
        return h
    }

    /// `weight` [out, in] in q8_0 blocks along its rows (ggml's reference rounding).
    static func q8(_ weight: Tensor) -> Tensor {
        Quantization.quantize(weight.toF32().withUnsafeFloats { Array($0) }, shape: weight.shape, as: .q8_0)
    }

    // MARK: - Encoder

    /// Encodes one 30 s window of log-mel features `[M, T]` into audio states `[A, D]`.
    public func encode(_ mel: Tensor) throws -> Tensor {
        let hp = hyperparameters
        guard mel.shape == [hp.melCount, 2 * hp.audioContext] else {
            throw WhisperError("encoder input must be [\(hp.melCount), \(2 * hp.audioContext)], got \(mel.shape)")
        }
        // Convolution stem: [M, T] → [D, T] → [D, A], GELU after each, then rows per position.
        var h = try engine.conv1d(mel, conv1.weight, bias: conv1.bias, params: Conv1DParams(padding: 1))
        try engine.activation(.gelu, &h)
        h = try engine.conv1d(h, conv2.weight, bias: conv2.bias, params: Conv1DParams(stride: 2, padding: 1))
        try engine.activation(.gelu, &h)
        var x = try engine.transposed(h)  // [A, D]
        try engine.add(&x, audioPositions)

        for layer in encoder {
            // x += attention(ln(x))
            var y = x
            try engine.layerNorm(&y, gamma: layer.attentionNorm.gamma, beta: layer.attentionNorm.beta)
            let qkv = try engine.linear(y, layer.qkv.weight, bias: layer.qkv.bias)  // [A, 3D]
            let attended = try attention(
                queries: qkv, queryStride: 3 * hp.width, keys: qkv, keyOffset: hp.width, values: qkv,
                valueOffset: 2 * hp.width, keyStride: 3 * hp.width, rows: hp.audioContext,
                keyCount: hp.audioContext, heads: hp.encoderHeads, causalOffset: nil)
            try engine.add(&x, try engine.linear(attended, layer.attentionOut.weight, bias: layer.attentionOut.bias))
            // x += mlp(ln(x))
            try mlp(&x, norm: layer.mlpNorm, fc1: layer.fc1, fc2: layer.fc2)
        }
        try engine.layerNorm(&x, gamma: encoderNorm.gamma, beta: encoderNorm.beta)
        return x
    }

    // MARK: - Decoder

    /// The decoder's memory for one window: cross-attention keys and values (computed once from the
    /// audio states) and the self-attention cache of the tokens decoded so far.
    public struct DecoderState: Sendable {
        /// Per layer: [A, 2D], keys in columns 0..<D, values in D..<2D (f16 with the int8 compute type).
        let cross: [Tensor]
        /// Per layer: [textContext, D] keys and values of past tokens.
        var keys: [Tensor]
        var values: [Tensor]
        /// Tokens in the cache.
        public private(set) var length = 0

        mutating func advance(by n: Int) { length += n }
    }

    /// Prepares the decoder for the audio states `[A, D]` of one window.
    public func decoderState(audio: Tensor) throws -> DecoderState {
        let hp = hyperparameters
        var cross = try decoder.map { try engine.linear(audio, $0.crossKV.weight, bias: $0.crossKV.bias) }
        // int8: every token reads all of them (18 MB in f32 for tiny), so they are kept in f16 like the weights.
        if computeType == .int8 { cross = cross.map(Self.halved) }
        let empty = Tensor(zeros: [hp.textContext, hp.width])
        return DecoderState(
            cross: cross, keys: Array(repeating: empty, count: hp.decoderLayers),
            values: Array(repeating: empty, count: hp.decoderLayers))
    }

    /// Runs `tokens` through the decoder after the cached ones and returns the logits `[N, V]`
    /// (with `lastOnly`, only the last token's `[1, V]`).
    public func decode(_ tokens: [Int32], state: inout DecoderState, lastOnly: Bool = true) throws -> Tensor {
        try decode(tokens, state: &state, logitRows: lastOnly ? [tokens.count - 1] : Array(tokens.indices))
    }

    /// Runs `tokens` through the decoder after the cached ones and returns the logits of the tokens at
    /// `logitRows` only, `[logitRows.count, V]`: a prompt needs two rows of its logits (the no-speech
    /// probability and the next token), and each row costs a pass over the 51864×384 output projection.
    public func decode(_ tokens: [Int32], state: inout DecoderState, logitRows: [Int]) throws -> Tensor {
        let hp = hyperparameters
        let n = tokens.count
        let past = state.length
        guard n > 0, past + n <= hp.textContext else {
            throw WhisperError("decoder context of \(hp.textContext) tokens exceeded (\(past) + \(n))")
        }
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < hp.vocabularySize }) else {
            throw WhisperError("a token id lies outside the vocabulary of \(hp.vocabularySize)")
        }
        var x = Tensor(zeros: [n, hp.width])
        try engine.embedding(tokenEmbedding, ids: tokens, into: &x)
        let positions = Tensor(
            shape: [n, hp.width],
            floats: textPositions.withUnsafeFloats { Array($0[(past * hp.width)..<((past + n) * hp.width)]) })
        try engine.add(&x, positions)

        for (i, layer) in decoder.enumerated() {
            // Causal self-attention over the cache plus these tokens.
            var y = x
            try engine.layerNorm(&y, gamma: layer.selfNorm.gamma, beta: layer.selfNorm.beta)
            let qkv = try engine.linear(y, layer.selfQKV.weight, bias: layer.selfQKV.bias)  // [N, 3D]
            qkv.withUnsafeFloats { src in
                state.keys[i].withUnsafeMutableFloats { k in
                    state.values[i].withUnsafeMutableFloats { v in
                        for t in 0..<n {
                            let row = src.baseAddress! + t * 3 * hp.width
                            (k.baseAddress! + (past + t) * hp.width).update(from: row + hp.width, count: hp.width)
                            (v.baseAddress! + (past + t) * hp.width).update(from: row + 2 * hp.width, count: hp.width)
                        }
                    }
                }
            }
            let selfAttended = try attention(
                queries: qkv, queryStride: 3 * hp.width, keys: state.keys[i], keyOffset: 0,
                values: state.values[i], valueOffset: 0, keyStride: hp.width, rows: n, keyCount: past + n,
                heads: hp.decoderHeads, causalOffset: past)
            try engine.add(&x, try engine.linear(selfAttended, layer.selfOut.weight, bias: layer.selfOut.bias))

            // Cross-attention over the audio states.
            y = x
            try engine.layerNorm(&y, gamma: layer.crossNorm.gamma, beta: layer.crossNorm.beta)
            let q = try engine.linear(y, layer.crossQ.weight, bias: layer.crossQ.bias)  // [N, D]
            let crossAttended = try attention(
                queries: q, queryStride: hp.width, keys: state.cross[i], keyOffset: 0, values: state.cross[i],
                valueOffset: hp.width, keyStride: 2 * hp.width, rows: n, keyCount: hp.audioContext,
                heads: hp.decoderHeads, causalOffset: nil)
            try engine.add(&x, try engine.linear(crossAttended, layer.crossOut.weight, bias: layer.crossOut.bias))

            try mlp(&x, norm: layer.mlpNorm, fc1: layer.fc1, fc2: layer.fc2)
        }
        state.advance(by: n)
        try engine.layerNorm(&x, gamma: decoderNorm.gamma, beta: decoderNorm.beta)
        if logitRows != Array(0..<n) {
            guard logitRows.allSatisfy({ (0..<n).contains($0) }) else {
                throw WhisperError("logit rows \(logitRows) outside the \(n) tokens decoded")
            }
            let d = hp.width
            x = Tensor(
                shape: [logitRows.count, d],
                floats: x.withUnsafeFloats { all in logitRows.flatMap { all[($0 * d)..<(($0 + 1) * d)] } })
        }
        return try engine.linear(x, outputProjection)  // [logitRows.count, V]
    }

    // MARK: - Shared blocks

    /// x += fc2(gelu(fc1(ln(x)))).
    private func mlp(_ x: inout Tensor, norm: Norm, fc1: Linear, fc2: Linear) throws {
        var y = x
        try engine.layerNorm(&y, gamma: norm.gamma, beta: norm.beta)
        var hidden = try engine.linear(y, fc1.weight, bias: fc1.bias)
        try engine.activation(.gelu, &hidden)
        try engine.add(&x, try engine.linear(hidden, fc2.weight, bias: fc2.bias))
    }

    /// Multi-head attention read straight out of (possibly fused) row-major projections, no copies:
    /// head h of the queries is columns h·E..<(h+1)·E of rows `queryStride` apart, and likewise for keys and
    /// values from `keyOffset` / `valueOffset`. Returns [rows, D].
    ///
    /// One fused op: the encoder's [H, 1500, 1500] scores never reach memory, and a decoded token's
    /// attention is one call instead of two products and a softmax per head.
    private func attention(
        queries: Tensor, queryStride: Int, keys: Tensor, keyOffset: Int, values: Tensor, valueOffset: Int,
        keyStride: Int, rows: Int, keyCount: Int, heads: Int, causalOffset: Int?
    ) throws -> Tensor {
        let width = hyperparameters.width
        let e = width / heads
        var out = Tensor(zeros: [rows, width])
        try engine.attention(
            queries, MatrixView(batch: heads, rows: rows, cols: e, rowStride: queryStride, batchStride: e),
            keys,
            MatrixView(offset: keyOffset, batch: heads, rows: keyCount, cols: e, rowStride: keyStride, batchStride: e),
            values,
            MatrixView(
                offset: valueOffset, batch: heads, rows: keyCount, cols: e, rowStride: keyStride, batchStride: e),
            scale: 1 / Float(e).squareRoot(), causalOffset: causalOffset, into: &out,
            MatrixView(batch: heads, rows: rows, cols: e, rowStride: width, batchStride: e))
        return out
    }
}
