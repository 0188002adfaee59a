// Piper's VITS up to the decoder's input, always on the CPU: text encoder, stochastic duration predictor in
// reverse, durations and alignment, prior sampling, and the flow in reverse. Follows rhasspy/piper's
// piper_train/vits (https://github.com/rhasspy/piper/tree/master/src/python/piper_train/vits): models.py
// (TextEncoder, StochasticDurationPredictor, ResidualCouplingBlock, SynthesizerTrn.infer), attentions.py
// (Encoder, MultiHeadAttention with window 4), modules.py (DDSConv, WN, ConvFlow, ElementwiseAffine, Flip),
// commons.py (generate_path); research/piper.md §1.3 has the closed forms used here. Batch 1 and
// `input_lengths == T`, so every mask is all ones and is left out.
//
// Shapes: T = phoneme ids, H = hidden channels, E = H / heads (head width), W = attention window,
//         R = 2W + 1 relative positions, P = FFN (filter) channels, I = latent (inter) channels,
//         S = duration-predictor channels, K = spline bins, F = frames, G = speaker embedding width.

import Compute
import Foundation
import Tensors

/// What the encoder stage hands the decoder: the latent frames and how they came about.
public struct PiperLatent: Sendable {
    /// z `[I, F]`, the decoder's input.
    public let z: Tensor
    /// Frames given to each phoneme id (`ceil(exp(logw) · length_scale)`); they sum to `frameCount` unless all
    /// are 0, when one silent frame is made.
    public let durations: [Int]
    /// The speaker embedding `[G, 1]` of a multi-speaker voice.
    public let speaker: Tensor?
    /// Time spent in each part of the stage.
    public let timings: PiperTimings

    /// F, the number of frames.
    public var frameCount: Int { z.shape[1] }
}

/// Where synthesis time went (for profiling; not a guarantee of anything).
public struct PiperTimings: Sendable, Equatable {
    /// Embedding and the transformer layers.
    public var textEncoder: Duration = .zero
    /// The stochastic duration predictor, alignment and prior sampling.
    public var durationPredictor: Duration = .zero
    /// The flow in reverse.
    public var flow: Duration = .zero
    /// HiFi-GAN.
    public var decoder: Duration = .zero

    /// All zero.
    public init() {}

    /// Encoder, duration predictor and flow together (the CPU stage).
    public var encoderStage: Duration { textEncoder + durationPredictor + flow }
}

/// The scales and choices of one synthesis.
public struct PiperSynthesisParameters: Codable, Sendable, Equatable {
    /// Prior noise (`scales[0]`). 0 makes the output deterministic.
    public var noiseScale: Float
    /// Duration multiplier (`scales[1]`); above 1 speaks slower.
    public var lengthScale: Float
    /// Duration noise (`scales[2]`). 0 makes the durations deterministic.
    public var noiseW: Float
    /// Speaker of a multi-speaker voice (0 when nil); ignored by single-speaker voices.
    public var speakerID: Int?
    /// Seed of the noise generator.
    public var seed: UInt64

    /// Scales with Piper's defaults (0.667, 1, 0.8) unless given.
    public init(
        noiseScale: Float = 0.667, lengthScale: Float = 1, noiseW: Float = 0.8, speakerID: Int? = nil,
        seed: UInt64 = 0
    ) {
        self.noiseScale = noiseScale
        self.lengthScale = lengthScale
        self.noiseW = noiseW
        self.speakerID = speakerID
        self.seed = seed
    }

    /// The voice's own defaults from its config.
    public init(_ inference: PiperVoiceConfig.Inference, speakerID: Int? = nil, seed: UInt64 = 0) {
        self.init(
            noiseScale: inference.noiseScale, lengthScale: inference.lengthScale, noiseW: inference.noiseW,
            speakerID: speakerID, seed: seed)
    }
}

/// The encoder stage of a Piper voice, bound to a CPU engine: phoneme ids → latent frames.
public struct PiperEncoderStage: Sendable {
    struct Norm: Sendable {
        let gamma: Tensor  // [C]
        let beta: Tensor  // [C]
    }

    struct EncoderLayer: Sendable {
        let qkv: PreparedLinear  // [3H, H]
        let output: PreparedLinear  // [H, H]
        let relativeKeys: Tensor  // [R, E]
        let relativeValues: Tensor  // [R, E]
        let attentionNorm: Norm
        let ffnIn: PreparedConv  // [P, H, k], "same" padding
        let ffnOut: PreparedConv  // [H, P, k]
        let ffnNorm: Norm
    }

    /// Dilated depth-separable convolutions (modules.py DDSConv).
    struct DDSConv: Sendable {
        struct Layer: Sendable {
            let separable: PreparedConv  // [S, 1, 3], dilation 3^i
            let norm1: Norm
            let pointwise: PreparedConv  // [S, S, 1]
            let norm2: Norm
        }
        let layers: [Layer]
    }

    struct ConvFlow: Sendable {
        let pre: PreparedConv  // [S, 1, 1]
        let convs: DDSConv
        let projection: PreparedConv  // [3K − 1, S, 1]
    }

    /// One mean-only residual coupling layer with its WaveNet (modules.py ResidualCouplingLayer, WN).
    struct Coupling: Sendable {
        let pre: PreparedConv  // [H, I/2, 1]
        let inLayers: [PreparedConv]  // [2H, H, 5]
        let resSkipLayers: [PreparedConv]  // [2H, H, 1], the last [H, H, 1]
        let condition: PreparedConv?  // [2H · layers, G, 1]
        let post: PreparedConv  // [I/2, H, 1]
    }

    /// The voice's sizes.
    public let architecture: PiperArchitecture
    /// The CPU engine every op of this stage runs on.
    public let engine: ComputeEngine
    let embedding: PreparedWeight  // [symbols, H]
    let layers: [EncoderLayer]
    let projection: PreparedConv  // [2I, H, 1]
    let durationPre: PreparedConv  // [S, H, 1]
    let durationCondition: PreparedConv?  // [S, G, 1]
    let durationConvs: DDSConv
    let durationProjection: PreparedConv  // [S, S, 1]
    let durationFlows: [ConvFlow]  // in reverse order
    let durationAffine: (m: [Float], scale: [Float])  // [2] each
    let couplings: [Coupling]  // in reverse order
    let speakerEmbedding: Tensor?  // [speakers, G]

    /// Prepares the encoder-stage weights for `engine` (whose backend should be the CPU).
    init(weights w: PiperGraphWeights, architecture a: PiperArchitecture, engine: ComputeEngine) throws(PiperError) {
        architecture = a
        self.engine = engine
        func norm(_ prefix: String, _ channels: Int) throws(PiperError) -> Norm {
            Norm(
                gamma: try w.tensor("\(prefix).gamma", count: channels),
                beta: try w.tensor("\(prefix).beta", count: channels))
        }
        func conv(_ module: String, padding: (Int, Int)? = nil) throws(PiperError) -> PreparedConv {
            try prepareConv(w, module, engine, padding: padding)
        }
        func dds(_ prefix: String) throws(PiperError) -> DDSConv {
            var layers: [DDSConv.Layer] = []
            for i in 0..<a.durationConvLayers {
                layers.append(
                    DDSConv.Layer(
                        separable: try conv("\(prefix).convs_sep.\(i)"),
                        norm1: try norm("\(prefix).norms_1.\(i)", a.durationChannels),
                        pointwise: try conv("\(prefix).convs_1x1.\(i)"),
                        norm2: try norm("\(prefix).norms_2.\(i)", a.durationChannels)))
            }
            return DDSConv(layers: layers)
        }

        embedding = try computing { () throws(ComputeError) in try engine.prepare(w.embedding, for: .embedding) }
        let width = a.hiddenChannels / a.heads
        let relativeCount = 2 * a.attentionWindow + 1
        let same = ((a.ffnKernel - 1) / 2, a.ffnKernel / 2)
        var layers: [EncoderLayer] = []
        for i in 0..<a.encoderLayers {
            let p = "enc_p.encoder.attn_layers.\(i)"
            let relK = try w.tensor("\(p).emb_rel_k", count: relativeCount * width)
            let relV = try w.tensor("\(p).emb_rel_v", count: relativeCount * width)
            layers.append(
                EncoderLayer(
                    qkv: try PreparedLinear(
                        [try w.conv("\(p).conv_q"), try w.conv("\(p).conv_k"), try w.conv("\(p).conv_v")],
                        engine: engine),
                    output: try PreparedLinear([try w.conv("\(p).conv_o")], engine: engine),
                    relativeKeys: relK.reshaped([relativeCount, width]),
                    relativeValues: relV.reshaped([relativeCount, width]),
                    attentionNorm: try norm("enc_p.encoder.norm_layers_1.\(i)", a.hiddenChannels),
                    ffnIn: try conv("enc_p.encoder.ffn_layers.\(i).conv_1", padding: same),
                    ffnOut: try conv("enc_p.encoder.ffn_layers.\(i).conv_2", padding: same),
                    ffnNorm: try norm("enc_p.encoder.norm_layers_2.\(i)", a.hiddenChannels)))
        }
        self.layers = layers
        projection = try conv("enc_p.proj")

        durationPre = try conv("dp.pre")
        durationCondition = a.isMultiSpeaker ? try conv("dp.cond") : nil
        durationConvs = try dds("dp.convs")
        durationProjection = try conv("dp.proj")
        var flows: [ConvFlow] = []
        for i in a.durationFlows {
            flows.append(
                ConvFlow(
                    pre: try conv("dp.flows.\(i).pre"), convs: try dds("dp.flows.\(i).convs"),
                    projection: try conv("dp.flows.\(i).proj")))
        }
        durationFlows = flows
        durationAffine = try w.durationAffine()
        guard durationAffine.m.count == 2 else { throw .notAVoice(w.path, "dp.flows.0.m is not [2, 1]") }

        var couplings: [Coupling] = []
        for i in a.flowCouplings {
            let p = "flow.flows.\(i)"
            var inLayers: [PreparedConv] = []
            var resSkip: [PreparedConv] = []
            for j in 0..<a.flowLayers {
                inLayers.append(try conv("\(p).enc.in_layers.\(j)"))
                resSkip.append(try conv("\(p).enc.res_skip_layers.\(j)"))
            }
            couplings.append(
                Coupling(
                    pre: try conv("\(p).pre"), inLayers: inLayers, resSkipLayers: resSkip,
                    condition: a.isMultiSpeaker ? try conv("\(p).enc.cond_layer") : nil, post: try conv("\(p).post")))
        }
        self.couplings = couplings
        speakerEmbedding = w.speakerEmbedding?.toF32()
    }

    // MARK: - The stage

    /// Runs the stage on one sentence's phoneme ids.
    /// - Throws: `PiperError` `.invalidInput` for no ids, an id outside the vocabulary or an unknown speaker.
    public func encode(ids: [Int], parameters: PiperSynthesisParameters) throws(PiperError) -> PiperLatent {
        let prior = try prior(ids: ids, parameters: parameters)
        return try flow(prior, window: 0..<prior.frameCount).adding(prior.timings)
    }

    // MARK: - Text encoder

    /// ids → (hidden `[H, T]`, stats `[2I, T]` = m_p over logs_p).
    func textEncoder(_ ids: [Int32]) throws(ComputeError) -> (Tensor, Tensor) {
        let h = architecture.hiddenChannels
        var rows = Tensor(zeros: [ids.count, h])
        try engine.embedding(embedding, ids: ids, into: &rows)
        try engine.mul(&rows, Tensor(shape: [1], floats: [Float(h).squareRoot()]))
        var x = try engine.transposed(rows)  // [H, T]
        for layer in layers {
            let qkv = try layer.qkv(try engine.transposed(x), engine)  // [T, 3H]
            let attended = try attention(qkv, layer)  // [T, H]
            try engine.add(&x, try engine.transposed(try layer.output(attended, engine)))
            try engine.layerNorm(&x, axis: 0, gamma: layer.attentionNorm.gamma, beta: layer.attentionNorm.beta)
            var y = try layer.ffnIn(x, engine)  // [P, T]
            try engine.activation(.relu, &y)
            try engine.add(&x, try layer.ffnOut(y, engine))
            try engine.layerNorm(&x, axis: 0, gamma: layer.ffnNorm.gamma, beta: layer.ffnNorm.beta)
        }
        return (x, try projection(x, engine))
    }

    /// Multi-head self-attention with relative positions (attentions.py MultiHeadAttention, window W, tables
    /// shared by the heads), read from the fused projections `qkv [T, 3H]`. Returns `[T, H]`.
    ///
    /// scores[i, j] = (q_i/√E)·k_j + (q_i/√E)·relK[j − i + W] (the second term only where |j − i| ≤ W);
    /// out_i = Σ_j p_ij v_j + Σ_{|j − i| ≤ W} p_ij relV[j − i + W].
    private func attention(_ qkv: Tensor, _ layer: EncoderLayer) throws(ComputeError) -> Tensor {
        let a = architecture
        let (t, h, heads) = (qkv.shape[0], a.hiddenChannels, a.heads)
        let e = h / heads
        let r = 2 * a.attentionWindow + 1
        let scale = 1 / Float(e).squareRoot()
        func head(_ offset: Int) -> MatrixView {
            MatrixView(offset: offset, batch: heads, rows: t, cols: e, rowStride: 3 * h, batchStride: e)
        }
        let table = MatrixView(rows: r, cols: e)
        var scores = Tensor(zeros: [heads, t, t])
        try engine.matmul(
            qkv, head(0), qkv, head(h), transposeB: true, alpha: scale, into: &scores,
            MatrixView(batch: heads, rows: t, cols: t))
        var relative = Tensor(zeros: [heads, t, r])
        try engine.matmul(
            qkv, head(0), layer.relativeKeys, table, transposeB: true, alpha: scale, into: &relative,
            MatrixView(batch: heads, rows: t, cols: r))
        Self.addBand(relative, to: &scores, window: a.attentionWindow)
        try engine.softmax(&scores)
        var out = Tensor(zeros: [t, h])
        let outView = MatrixView(batch: heads, rows: t, cols: e, rowStride: h, batchStride: e)
        try engine.matmul(scores, MatrixView(batch: heads, rows: t, cols: t), qkv, head(2 * h), into: &out, outView)
        let band = Self.band(of: scores, window: a.attentionWindow)  // [heads, T, R]
        try engine.matmul(
            band, MatrixView(batch: heads, rows: t, cols: r), layer.relativeValues, table, beta: 1, into: &out, outView)
        return out
    }

    /// scores[b, i, j] += relative[b, i, j − i + W] for |j − i| ≤ W.
    private static func addBand(_ relative: Tensor, to scores: inout Tensor, window w: Int) {
        let (batch, t) = (scores.shape[0], scores.shape[1])
        let r = 2 * w + 1
        relative.withUnsafeFloats { rel in
            scores.withUnsafeMutableFloats { s in
                for b in 0..<batch {
                    for i in 0..<t {
                        let row = s.baseAddress! + (b * t + i) * t
                        let band = rel.baseAddress! + (b * t + i) * r
                        for j in max(0, i - w)...min(t - 1, i + w) { row[j] += band[j - i + w] }
                    }
                }
            }
        }
    }

    /// band[b, i, j − i + W] = p[b, i, j] for |j − i| ≤ W, zero elsewhere: `[batch, T, R]`.
    private static func band(of p: Tensor, window w: Int) -> Tensor {
        let (batch, t) = (p.shape[0], p.shape[1])
        let r = 2 * w + 1
        var out = Tensor(zeros: [batch, t, r])
        p.withUnsafeFloats { src in
            out.withUnsafeMutableFloats { dst in
                for b in 0..<batch {
                    for i in 0..<t {
                        let row = src.baseAddress! + (b * t + i) * t
                        let band = dst.baseAddress! + (b * t + i) * r
                        for j in max(0, i - w)...min(t - 1, i + w) { band[j - i + w] = row[j] }
                    }
                }
            }
        }
        return out
    }

    // MARK: - Stochastic duration predictor (reverse)

    /// logw `[T]` from the encoder's hidden states `[H, T]`.
    func logDurations(_ hidden: Tensor, speaker: Tensor?, noiseW: Float, random: inout SeededRandom)
        throws(ComputeError) -> [Float]
    {
        let t = hidden.shape[1]
        var condition = try durationPre(hidden, engine)  // [S, T]
        if let speaker, let durationCondition { try engine.add(&condition, try durationCondition(speaker, engine)) }
        condition = try durationProjection(try dds(durationConvs, condition), engine)

        // z [2, T] = randn · noise_w, kept as its two channels.
        var z0 = [Float](repeating: 0, count: t)
        var z1 = [Float](repeating: 0, count: t)
        if noiseW != 0 {
            let noise = Self.normal(2 * t, &random)
            for i in 0..<t {
                z0[i] = noise[i] * noiseW
                z1[i] = noise[t + i] * noiseW
            }
        }
        // Reverse order: (Flip, ConvFlow) per flow, then Flip and the ElementwiseAffine.
        for flow in durationFlows {
            swap(&z0, &z1)
            try convFlow(flow, x0: z0, x1: &z1, condition: condition)
        }
        swap(&z0, &z1)
        let (m, scale) = durationAffine
        return z0.map { ($0 - m[0]) * scale[0] }
    }

    /// x1 ← spline⁻¹(x1) with the spline read from x0 and the conditioning (modules.py ConvFlow, reverse).
    private func convFlow(_ flow: ConvFlow, x0: [Float], x1: inout [Float], condition: Tensor) throws(ComputeError) {
        let t = x0.count
        var h = try flow.pre(Tensor(shape: [1, t], floats: x0), engine)  // [S, T]
        try engine.add(&h, condition)
        h = try dds(flow.convs, h)
        let parameters = try flow.projection(h, engine)  // [3K − 1, T]
        let k = architecture.splineBins
        let spline = RationalQuadraticSpline(bins: k)
        let scale = Float(architecture.durationChannels).squareRoot()
        parameters.withUnsafeFloats { p in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * k) { scaled in
                for i in 0..<t {
                    let column = p.baseAddress! + i
                    // widths and heights are divided by √S before the softmax, as modules.py does.
                    for j in 0..<(2 * k) { scaled[j] = column[j * t] / scale }
                    x1[i] = spline.inverse(
                        x1[i], widths: scaled.baseAddress!, heights: scaled.baseAddress! + k,
                        derivatives: column + 2 * k * t, derivativeStride: t)
                }
            }
        }
    }

    /// modules.py DDSConv: per layer x += gelu(LN(1×1(gelu(LN(depthwise(x)))))).
    private func dds(_ block: DDSConv, _ input: Tensor) throws(ComputeError) -> Tensor {
        var x = input
        for layer in block.layers {
            var y = try layer.separable(x, engine)
            try engine.layerNorm(&y, axis: 0, gamma: layer.norm1.gamma, beta: layer.norm1.beta)
            try engine.activation(.gelu, &y)
            y = try layer.pointwise(y, engine)
            try engine.layerNorm(&y, axis: 0, gamma: layer.norm2.gamma, beta: layer.norm2.beta)
            try engine.activation(.gelu, &y)
            try engine.add(&x, y)
        }
        return x
    }

    // MARK: - Alignment and prior

    /// `count` standard normal values (Box–Muller).
    static func normal(_ count: Int, _ random: inout SeededRandom) -> [Float] {
        var values = [Float]()
        values.reserveCapacity(count + 1)
        while values.count < count {
            let u1 = 1 - Double(random.next() >> 11) * 0x1p-53  // (0, 1]
            let u2 = Double(random.next() >> 11) * 0x1p-53
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            values.append(Float(radius * Foundation.cos(2 * Double.pi * u2)))
            values.append(Float(radius * Foundation.sin(2 * Double.pi * u2)))
        }
        return Array(values.prefix(count))
    }

    // MARK: - Flow (reverse)

    /// z_p `[I, F]` → z `[I, F]` through the coupling layers in reverse (each preceded by its Flip).
    func reverseFlow(_ prior: Tensor, speaker: Tensor?) throws(ComputeError) -> Tensor {
        var x = prior
        let half = architecture.interChannels / 2
        for coupling in couplings {
            x = x.flippedRows()
            let x0 = x.rows(0..<half)
            var h = try coupling.pre(x0, engine)  // [H, F]
            h = try waveNet(coupling, h, speaker: speaker)
            var m = try coupling.post(h, engine)  // [I/2, F]
            try engine.mul(&m, Tensor(shape: [1], floats: [-1]))
            var x1 = x.rows(half..<(2 * half))
            try engine.add(&x1, m)  // x1 − m
            x = Tensor.stacking(x0, x1)
        }
        return x
    }

    /// modules.py WN: gated dilated convs with residual and skip outputs; returns the summed skips `[H, F]`.
    private func waveNet(_ coupling: Coupling, _ input: Tensor, speaker: Tensor?) throws(ComputeError) -> Tensor {
        let h = input.shape[0]
        var x = input
        var skips: Tensor? = nil
        let condition: Tensor? =
            if let speaker, let c = coupling.condition { try c(speaker, engine) } else { nil }  // [2H · layers, 1]
        let count = coupling.inLayers.count
        for i in 0..<count {
            var gates = try coupling.inLayers[i](x, engine)  // [2H, F]
            if let condition { try engine.add(&gates, condition.rows((2 * h * i)..<(2 * h * (i + 1)))) }
            var acts = gates.rows(0..<h)
            var sigmoid = gates.rows(h..<(2 * h))
            try engine.activation(.tanh, &acts)
            try engine.activation(.sigmoid, &sigmoid)
            try engine.mul(&acts, sigmoid)
            let resSkip = try coupling.resSkipLayers[i](acts, engine)
            let skip = i < count - 1 ? resSkip.rows(h..<(2 * h)) : resSkip
            if i < count - 1 { try engine.add(&x, resSkip.rows(0..<h)) }
            if skips == nil {
                skips = skip
            } else {
                try engine.add(&skips!, skip)
            }
        }
        return skips!
    }
}
