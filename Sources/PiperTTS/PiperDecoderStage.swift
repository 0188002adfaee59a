// Piper's decoder, HiFi-GAN, on whichever backend the engine binds: rhasspy/piper's piper_train/vits/models.py
// (Generator) and modules.py (ResBlock1, ResBlock2), https://github.com/rhasspy/piper/tree/master/src/python/piper_train/vits.
// Weight norm was removed at export, so every weight is a plain conv weight. It is a pure convolution stack
// with a receptive field of about ±11 frames (research/piper.md §1.3, §3.4), so a frame range decoded with
// at least 12 frames of margin per side, margins trimmed, equals the same range of a one-shot decode.
//
// Shapes: I = latent channels, F = frames, U = the first stage's channels, C = a stage's channels (U / 2^(i+1)),
//         L = a stage's length (frames × the rates so far), N = samples = frames × hop, G = speaker width.

import Compute
import Tensors

/// The decoder stage of a Piper voice: latent frames → waveform, on the engine's bound backend.
public struct PiperDecoderStage: Sendable {
    /// A transposed conv prepared for the engine, with its node's stride and padding.
    struct Upsample: Sendable {
        let weight: PreparedWeight  // [C_in, C_out, k]
        let bias: Tensor?  // [C_out]
        let params: ConvTranspose1DParams
    }

    /// ResBlock2: `first` only; ResBlock1: `first` (dilated) and `second` (dilation 1) in pairs.
    struct ResidualBlock: Sendable {
        let first: [PreparedConv]  // [C, C, k]
        let second: [PreparedConv]  // [C, C, k]
    }

    struct Stage: Sendable {
        let upsample: Upsample
        let blocks: [ResidualBlock]

        /// Samples of context on each side that any block's output depends on (its convs' pads, summed).
        var reach: Int {
            blocks.map { b in
                (b.first + b.second).reduce(0) { $0 + max($1.params.padLeft, $1.params.padRight) }
            }.max() ?? 0
        }
    }

    /// Frames of context on each side that make a chunk equal to the one-shot decode (receptive field ±11).
    public static let minimumMargin = 12

    /// The voice's sizes.
    public let architecture: PiperArchitecture
    /// The engine the decoder's ops go to (its bound backend first, the CPU for what it declines).
    public let engine: ComputeEngine
    let convPre: PreparedConv  // [U, I, 7]
    let condition: PreparedConv?  // [U, G, 1]
    let stages: [Stage]
    let convPost: PreparedConv  // [1, C_last, 7], no bias

    /// Prepares the decoder weights for `engine`'s backend.
    init(weights w: PiperGraphWeights, architecture a: PiperArchitecture, engine: ComputeEngine) throws(PiperError) {
        architecture = a
        self.engine = engine
        convPre = try prepareConv(w, "dec.conv_pre", engine)
        condition = a.isMultiSpeaker ? try prepareConv(w, "dec.cond", engine) : nil
        let perStage = a.resblockKernels.count
        var stages: [Stage] = []
        for i in a.upsampleRates.indices {
            let up = try w.conv("dec.ups.\(i)")
            guard up.pads.0 == up.pads.1 else {
                throw PiperError(.unsupportedVoice, "dec.ups.\(i) pads its two sides differently", path: w.path)
            }
            let params = ConvTranspose1DParams(
                stride: up.stride, dilation: up.dilation, padding: up.pads.0, groups: up.group)
            let weight = try computing { () throws(ComputeError) in
                try engine.prepare(up.weight, for: .convTranspose1d(params))
            }
            var blocks: [ResidualBlock] = []
            for j in 0..<perStage {
                let p = "dec.resblocks.\(i * perStage + j)"
                let dilations = a.resblockDilations[j].indices
                switch a.resblock {
                case .one:
                    blocks.append(
                        ResidualBlock(
                            first: try dilations.map { k throws(PiperError) in
                                try prepareConv(w, "\(p).convs1.\(k)", engine)
                            },
                            second: try dilations.map { k throws(PiperError) in
                                try prepareConv(w, "\(p).convs2.\(k)", engine)
                            }))
                case .two:
                    blocks.append(
                        ResidualBlock(
                            first: try dilations.map { k throws(PiperError) in
                                try prepareConv(w, "\(p).convs.\(k)", engine)
                            },
                            second: []))
                }
            }
            stages.append(
                Stage(upsample: Upsample(weight: weight, bias: up.bias?.toF32(), params: params), blocks: blocks))
        }
        self.stages = stages
        convPost = try prepareConv(w, "dec.conv_post", engine)
    }

    // MARK: - Decoding

    /// The whole waveform of `latent`: `frameCount × hop` samples in [−1, 1].
    public func decode(_ latent: PiperLatent) throws(PiperError) -> [Float] {
        try decode(latent, frames: 0..<latent.frameCount)
    }

    /// The samples of frames `frames` of `latent` (`frames.count × hop` of them), decoded from those frames plus
    /// `margin` frames of context on each side that are then trimmed off.
    ///
    /// - Important: With `margin ≥ minimumMargin`, consecutive ranges concatenate to the one-shot waveform
    ///   (equal to float rounding): no crossfade is needed.
    /// - Throws: `PiperError` `.invalidInput` for a range outside the latent or a negative margin.
    public func decode(_ latent: PiperLatent, frames: Range<Int>, margin: Int = minimumMargin) throws(PiperError)
        -> [Float]
    {
        let total = latent.frameCount
        guard frames.lowerBound >= 0, frames.upperBound <= total, !frames.isEmpty, margin >= 0 else {
            throw .input("cannot decode frames \(frames) of \(total) with a margin of \(margin)")
        }
        let lower = max(0, frames.lowerBound - margin)
        let upper = min(total, frames.upperBound + margin)
        let window = lower == 0 && upper == total ? latent.z : latent.z.columns(lower..<upper)
        let audio = try computing { () throws(ComputeError) in try generate(window, speaker: latent.speaker) }
        let hop = architecture.hopLength
        let start = (frames.lowerBound - lower) * hop
        return audio.withUnsafeFloats { Array($0[start..<(start + frames.count * hop)]) }
    }

    /// Frame ranges that cover `frameCount` frames for streaming: a small first chunk (early first audio), then
    /// each chunk twice the last up to `maximumChunk` (fewer, larger decoder calls). A remainder shorter than
    /// `firstChunk` joins the chunk before it.
    public static func chunks(frameCount: Int, firstChunk: Int = 32, maximumChunk: Int = 256) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        var size = max(1, firstChunk)
        let largest = max(size, maximumChunk)
        while start < frameCount {
            var end = min(frameCount, start + size)
            if frameCount - end < max(1, firstChunk) { end = frameCount }
            ranges.append(start..<end)
            start = end
            size = min(2 * size, largest)
        }
        return ranges
    }

    // MARK: - HiFi-GAN

    /// z `[I, F]` → waveform `[1, F · hop]`.
    func generate(_ z: Tensor, speaker: Tensor?) throws(ComputeError) -> Tensor {
        var x = try convPre(z, engine)  // [U, F]
        if let speaker, let condition { try engine.add(&x, try condition(speaker, engine)) }
        for (i, stage) in stages.enumerated() {
            try engine.activation(.leakyReLU(slope: 0.1), &x)
            // [C, L]; after the last stage the waveform [1, N]
            x = try upsampleInTiles(stage, x, finishing: i == stages.count - 1)
        }
        return x
    }

    /// After the last stage: leaky ReLU (slope 0.01), conv_post, tanh.
    private func finish(_ x: Tensor) throws(ComputeError) -> Tensor {
        var y = try convPost(leaky: 0.01, x, engine)  // [1, N]
        try engine.activation(.tanh, &y)
        return y
    }

    /// A stage (upsampler, then the mean of its residual blocks), and with `finishing` the layers after it, in time
    /// tiles of about 1 MB per tensor (a tile's upsampler output, blocks and result stay in cache; on a 400-frame
    /// sentence the last stage's tensors are 13 MB each): each tile's upsampler runs over the input frames its
    /// window needs, and its blocks over that window with the blocks' own context (the sum of their convs' pads)
    /// and conv_post's on both sides, so every tile's output equals the one-shot one.
    private func upsampleInTiles(_ stage: Stage, _ x: Tensor, finishing: Bool) throws(ComputeError) -> Tensor {
        let up = stage.upsample
        let (rate, taps) = (up.params.stride, up.weight.shape[2])
        let length = up.params.outputLength(input: x.shape[1], kernel: taps)
        let channels = up.weight.shape[1] * up.params.groups
        let context = stage.reach + (finishing ? convPost.params.padLeft + convPost.params.padRight : 0)
        let width = max(8 * context, 262_144 / max(channels, 1))
        // An accelerator takes each conv whole instead: tiles would only add calls (and their context).
        guard engine.isCPUOnly, length > width + 2 * context else {
            let y = try blocks(stage, try engine.convTranspose1d(x, up.weight, bias: up.bias, params: up.params))
            return finishing ? try finish(y) : y
        }
        // Every column is written below.
        let rows = finishing ? 1 : channels
        var out = Tensor(
            shape: [rows, length], dtype: .f32, storage: TensorStorage(uninitializedBytes: rows * length * 4))
        for t0 in stride(from: 0, to: length, by: width) {
            let t1 = min(length, t0 + width)
            let window = max(0, t0 - context)..<min(length, t1 + context)
            // Input frames whose taps reach the window (output o = i · rate − padding + j, j < taps), with a
            // frame to spare on each side; column c of the upsampled slice is then output first · rate + c.
            let first = max(0, (window.lowerBound + up.params.padding - taps) / rate - 1)
            let last = min(x.shape[1], (window.upperBound - 1 + up.params.padding) / rate + 2)
            // It ends at or before y's end (at it when last is x's end). Its outputs near its two ends miss inputs
            // outside it; they lie outside the window (by the spare frame), so, like the zero padding at a
            // window's edge, they reach no output of the tile.
            let slice = try engine.convTranspose1d(
                x.columns(first..<last), up.weight, bias: up.bias, params: up.params)
            let offset = first * rate
            var y = try blocks(stage, slice)
            if finishing { y = try finish(y) }
            out.setColumns(t0..<t1, from: y, at: t0 - offset)
        }
        return out
    }

    /// The mean of the stage's residual blocks over x `[C, L]`.
    private func blocks(_ stage: Stage, _ x: Tensor) throws(ComputeError) -> Tensor {
        var sum: Tensor? = nil
        for block in stage.blocks {
            let y = try residual(block, x)
            if sum == nil {
                sum = y
            } else {
                try engine.add(&sum!, y)
            }
        }
        try engine.mul(&sum!, Tensor(shape: [1], floats: [1 / Float(stage.blocks.count)]))
        return sum!
    }

    /// One residual block: per dilation x += conv(lrelu(x)) (ResBlock2), or x += conv2(lrelu(conv1(lrelu(x))))
    /// (ResBlock1); each conv takes its leaky ReLU, and the last of each step its residual, as one op.
    private func residual(_ block: ResidualBlock, _ input: Tensor) throws(ComputeError) -> Tensor {
        var x = input
        for (k, conv) in block.first.enumerated() {
            if k < block.second.count {
                x = try block.second[k](leaky: 0.1, try conv(leaky: 0.1, x, engine), adding: x, engine)
            } else {
                x = try conv(leaky: 0.1, x, adding: x, engine)
            }
        }
        return x
    }
}
