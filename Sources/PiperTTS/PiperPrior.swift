// The encoder stage in two steps, for streaming: everything up to the flow (text encoder, duration predictor,
// alignment, prior sampling) once per sentence, then the flow in reverse over frame windows. The flow is a stack of
// convolutions (4 couplings of a 4-layer WaveNet with kernel 5: ±32 frames), so a window computed with that much
// context on each side, context trimmed, equals the same frames of the one-shot flow (research/piper.md §3.4). The
// speech pipeline uses this to start decoding a sentence's first chunk before the flow has run over the whole
// sentence; `encode(ids:parameters:)` is the one-shot path built from the same two steps.
//
// Shapes: I = latent channels, F = frames, G = speaker embedding width.

import Compute
import Foundation
import Tensors

/// A sentence after the encoder stage's first step: z_p, the flow's input, with the durations behind it.
struct PiperPrior: Sendable {
    /// z_p `[I, F]` = m_p + ε · exp(logs_p) · noise_scale, expanded to frames.
    let zp: Tensor
    /// Frames of each phoneme id.
    let durations: [Int]
    /// The speaker embedding `[G, 1]` of a multi-speaker voice.
    let speaker: Tensor?
    /// Text encoder and duration predictor times.
    let timings: PiperTimings

    /// F.
    var frameCount: Int { zp.shape[1] }
}

extension PiperEncoderStage {
    /// Frames of context on each side that make a window of the flow equal the one-shot flow: its receptive field.
    var flowMargin: Int {
        func reach(_ conv: PreparedConv) -> Int {
            let span = conv.params.dilation * (conv.weight.shape[2] - 1)
            return max(conv.params.padLeft, span - conv.params.padLeft)
        }
        return couplings.reduce(0) { total, coupling in
            total + reach(coupling.pre) + coupling.inLayers.map(reach).reduce(0, +)
                + coupling.resSkipLayers.map(reach).reduce(0, +) + reach(coupling.post)
        }
    }

    /// The first step of `encode(ids:parameters:)`: text encoder, duration predictor, alignment and prior sampling,
    /// drawing the same noise as `encode` for the same seed.
    /// - Throws: `PiperError` `.invalidInput` for no ids, an id outside the vocabulary or an unknown speaker.
    func prior(ids: [Int], parameters: PiperSynthesisParameters) throws(PiperError) -> PiperPrior {
        let a = architecture
        guard !ids.isEmpty else { throw .input("no phoneme ids to synthesize") }
        if let bad = ids.first(where: { $0 < 0 || $0 >= a.symbolCount }) {
            throw .input("phoneme id \(bad) lies outside the voice's \(a.symbolCount) symbols")
        }
        guard parameters.lengthScale > 0, parameters.lengthScale.isFinite else {
            throw .input("length scale must be positive, got \(parameters.lengthScale)")
        }
        var speaker: Tensor? = nil
        if let table = speakerEmbedding {
            let id = parameters.speakerID ?? 0
            guard id >= 0, id < a.speakerCount else {
                throw .input("speaker \(id) is not one of the voice's \(a.speakerCount) speakers")
            }
            speaker = table.rows(id..<(id + 1)).reshaped([a.speakerChannels, 1])
        }
        var random = SeededRandom(seed: parameters.seed)
        var timings = PiperTimings()
        let clock = ContinuousClock()

        var start = clock.now
        let (hidden, stats) = try computing { () throws(ComputeError) in try textEncoder(ids.map { Int32($0) }) }
        timings.textEncoder = clock.now - start

        start = clock.now
        let logw = try computing { () throws(ComputeError) in
            try logDurations(hidden, speaker: speaker, noiseW: parameters.noiseW, random: &random)
        }
        let durations = logw.map { Int((Foundation.exp($0) * parameters.lengthScale).rounded(.up)) }
        let zp = Self.expand(
            stats, channels: a.interChannels, durations: durations, noiseScale: parameters.noiseScale,
            random: &random)
        timings.durationPredictor = clock.now - start
        return PiperPrior(zp: zp, durations: durations, speaker: speaker, timings: timings)
    }

    /// The flow in reverse over the frames `window` of `prior`, computed with `flowMargin` frames of context on each
    /// side: a latent of `window.count` frames equal to those frames of the one-shot latent. Its timings hold the
    /// flow's time.
    /// - Throws: `PiperError` `.invalidInput` for a window outside the prior, `.computeFailed` when an op fails.
    func flow(_ prior: PiperPrior, window: Range<Int>) throws(PiperError) -> PiperLatent {
        let total = prior.frameCount
        guard window.lowerBound >= 0, window.upperBound <= total, !window.isEmpty else {
            throw .input("cannot run the flow over frames \(window) of \(total)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let margin = flowMargin
        let context = max(0, window.lowerBound - margin)..<min(total, window.upperBound + margin)
        let input = context == 0..<total ? prior.zp : prior.zp.columns(context)
        var z = try computing { () throws(ComputeError) in try reverseFlow(input, speaker: prior.speaker) }
        if context != window {
            z = z.columns((window.lowerBound - context.lowerBound)..<(window.upperBound - context.lowerBound))
        }
        var timings = PiperTimings()
        timings.flow = clock.now - start
        return PiperLatent(z: z, durations: prior.durations, speaker: prior.speaker, timings: timings)
    }

    /// m_p and logs_p repeated `durations[j]` times per phoneme (commons.py generate_path, then attn @ m_p), and
    /// z_p = m_p + ε · exp(logs_p) · noise_scale: `[I, F]` from stats `[2I, T]`.
    private static func expand(
        _ stats: Tensor, channels: Int, durations: [Int], noiseScale: Float, random: inout SeededRandom
    ) -> Tensor {
        let t = stats.shape[1]
        let frames = max(1, durations.reduce(0, +))
        var prior = Tensor(zeros: [channels, frames])
        let noise = noiseScale == 0 ? [] : normal(channels * frames, &random)
        let uncovered = durations.allSatisfy { $0 == 0 }
        stats.withUnsafeFloats { s in
            prior.withUnsafeMutableFloats { z in
                for c in 0..<channels {
                    let mean = s.baseAddress! + c * t
                    let logScale = s.baseAddress! + (channels + c) * t
                    let row = z.baseAddress! + c * frames
                    if uncovered && noiseScale != 0 {
                        row[0] = noise[c * frames] * noiseScale  // no phoneme covers the frame: m = logs = 0
                    }
                    var f = 0
                    for (j, count) in durations.enumerated() {
                        for _ in 0..<count {
                            row[f] = mean[j]
                            if noiseScale != 0 {
                                row[f] += noise[c * frames + f] * Foundation.exp(logScale[j]) * noiseScale
                            }
                            f += 1
                        }
                    }
                }
            }
        }
        return prior
    }
}
