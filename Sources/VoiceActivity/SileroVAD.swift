// Silero VAD v6, 16 kHz, run on Hark's backend layer from the ONNX file the PyPI `silero-vad` package ships
// (silero_vad_16k_op15.onnx, whose weights keep their module names).
// Follows the exported graph: reflect-pad → STFT as a strided conv with a fixed basis → magnitude →
// 4 conv + ReLU encoder blocks → LSTM cell → ReLU → 1×1 conv → sigmoid; and the reference wrapper
// (snakers4/silero-vad utils_vad.py OnnxWrapper): 512-sample windows, each preceded by the previous
// window's last 64 samples, the LSTM state carried from window to window.
//
// Shapes: W = 576 samples per step (64 context + 512 new), B = 129 frequency bins, F = 4 STFT frames,
//         C = 128 channels, G = 4·C LSTM gates.

import Compute
import Foundation
import Tensors

/// Errors loading a voice-activity model.
public struct VoiceActivityError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Silero VAD: the probability that each 32 ms window of 16 kHz audio holds speech.
public struct SileroVAD: Sendable {
    /// New samples per window (32 ms at 16 kHz).
    public static let windowSamples = 512
    /// Samples of the previous window each step sees again.
    public static let contextSamples = 64
    static let filterLength = 256
    static let hop = 128

    struct Conv: Sendable {
        let weight: PreparedWeight
        let bias: Tensor
        let params: Conv1DParams
    }

    let engine: ComputeEngine
    let basis: PreparedWeight  // [2B, 256]: real rows then imaginary rows
    let encoder: [Conv]  // 129→128 s1, 128→64 s2, 64→64 s2, 64→128 s1, all k3 p1
    let inputGates: PreparedWeight  // [G, C]
    let hiddenGates: PreparedWeight  // [G, C]
    let gateBias: Tensor  // [G]: bias_ih + bias_hh
    let output: [Float]  // [C] 1×1 conv weight
    let outputBias: Float

    /// Loads the model from `path` and prepares its weights for `engine`.
    public init(path: String, engine: ComputeEngine) throws {
        let onnx = try ONNXModel(path: path)
        func tensor(_ name: String) throws -> Tensor {
            guard let t = onnx.tensor(named: name) else {
                throw VoiceActivityError("\(path): no tensor '\(name)': not Silero VAD's 16 kHz ONNX export")
            }
            return t.toF32()
        }
        self.engine = engine
        let stft = try tensor("model.stft.forward_basis_buffer")  // [258, 1, 256]
        guard stft.shape == [2 * 129, 1, Self.filterLength] else {
            throw VoiceActivityError("\(path): unexpected STFT basis \(stft.shape)")
        }
        basis = try engine.prepare(stft.reshaped([2 * 129, Self.filterLength]), for: .linear)
        let strides = [1, 2, 2, 1]
        encoder = try strides.enumerated().map { i, stride in
            let params = Conv1DParams(stride: stride, padding: 1)
            return Conv(
                weight: try engine.prepare(try tensor("model.encoder.\(i).reparam_conv.weight"), for: .conv1d(params)),
                bias: try tensor("model.encoder.\(i).reparam_conv.bias"), params: params)
        }
        inputGates = try engine.prepare(try tensor("model.decoder.rnn.weight_ih"), for: .linear)
        hiddenGates = try engine.prepare(try tensor("model.decoder.rnn.weight_hh"), for: .linear)
        let bias = zip(
            try tensor("model.decoder.rnn.bias_ih").floats(), try tensor("model.decoder.rnn.bias_hh").floats()
        )
        .map(+)
        gateBias = Tensor(shape: [bias.count], floats: bias)
        output = try tensor("model.decoder.decoder.2.weight").floats()
        outputBias = try tensor("model.decoder.decoder.2.bias").floats()[0]
    }

    /// The recurrent state carried between windows; start from `init()` for each stream.
    public struct State: Sendable {
        var hidden = Tensor(zeros: [1, 128])
        var cell = [Float](repeating: 0, count: 128)
        var context = [Float](repeating: 0, count: SileroVAD.contextSamples)
        public init() {}
    }

    /// Speech probability of one window of `windowSamples` new samples, updating `state`.
    public func probability(of window: ArraySlice<Float>, state: inout State) throws -> Float {
        precondition(window.count == Self.windowSamples)
        let input = state.context + window
        state.context = Array(window.suffix(Self.contextSamples))
        // Reflect-pad 64 samples on the right, then frames of 256 every 128 samples.
        var padded = input
        for i in 0..<Self.contextSamples { padded.append(input[input.count - 2 - i]) }
        let frames = (padded.count - Self.filterLength) / Self.hop + 1
        var framed = [Float]()
        framed.reserveCapacity(frames * Self.filterLength)
        for t in 0..<frames { framed += padded[(t * Self.hop)..<(t * Self.hop + Self.filterLength)] }
        let spectrum = try engine.linear(Tensor(shape: [frames, Self.filterLength], floats: framed), basis)  // [F, 2B]
        var magnitude = [Float](repeating: 0, count: 129 * frames)
        spectrum.withUnsafeFloats { s in
            for t in 0..<frames {
                for k in 0..<129 {
                    let re = s[t * 258 + k]
                    let im = s[t * 258 + 129 + k]
                    magnitude[k * frames + t] = (re * re + im * im).squareRoot()
                }
            }
        }
        var h = Tensor(shape: [129, frames], floats: magnitude)
        for conv in encoder {
            h = try engine.conv1d(h, conv.weight, bias: conv.bias, params: conv.params)
            try engine.activation(.relu, &h)
        }
        // The LSTM cell reads the last time step of the encoder output.
        let steps = h.shape[1]
        let x = Tensor(
            shape: [1, 128], floats: h.withUnsafeFloats { v in (0..<128).map { v[$0 * steps + steps - 1] } })
        var gates = try engine.linear(x, inputGates, bias: gateBias)
        try engine.add(&gates, try engine.linear(state.hidden, hiddenGates))
        var hidden = [Float](repeating: 0, count: 128)
        gates.withUnsafeFloats { g in
            for j in 0..<128 {
                // PyTorch's gate order: input, forget, cell, output.
                let i = Self.sigmoid(g[j])
                let f = Self.sigmoid(g[128 + j])
                let c = tanh(g[256 + j])
                let o = Self.sigmoid(g[384 + j])
                state.cell[j] = f * state.cell[j] + i * c
                hidden[j] = o * tanh(state.cell[j])
            }
        }
        state.hidden = Tensor(shape: [1, 128], floats: hidden)
        var logit = outputBias
        for j in 0..<128 { logit += output[j] * max(hidden[j], 0) }
        return Self.sigmoid(logit)
    }

    /// Speech probabilities of every 32 ms window of `samples`, zero-padded as faster-whisper pads them
    /// (always by 512 − count mod 512 samples).
    public func probabilities(_ samples: [Float]) throws -> [Float] {
        var state = State()
        let window = Self.windowSamples
        let windows = samples.count / window + 1
        var last = [Float](repeating: 0, count: window)
        let tail = samples.count - (windows - 1) * window
        for i in 0..<tail { last[i] = samples[(windows - 1) * window + i] }
        return try (0..<windows).map { w in
            w < windows - 1
                ? try probability(of: samples[(w * window)..<((w + 1) * window)], state: &state)
                : try probability(of: last[...], state: &state)
        }
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
}
