// A Piper voice (`.onnx` + `.onnx.json`, exported by rhasspy/piper's piper_train/export_onnx.py,
// https://github.com/rhasspy/piper/blob/master/src/python/piper_train/export_onnx.py) loaded onto Hark's
// backend layer: the weights are mapped through the graph (PiperGraphWeights), the architecture read from
// their shapes (PiperArchitecture), and each stage's weights prepared once for its engine — the encoder stage
// on the CPU, the decoder stage on the engine the caller binds.

import Compute
import Foundation
import Tensors

/// Mono audio made by a voice.
public struct PiperAudio: Sendable {
    /// Samples in [−1, 1] (HiFi-GAN's tanh; not peak-normalised).
    public var samples: [Float]
    /// Hz.
    public var sampleRate: Int
    /// Where the time went.
    public var timings: PiperTimings
}

/// A loaded Piper voice: its config, its architecture and its two stages, ready to synthesize.
public struct PiperVoice: Sendable {
    /// The `.onnx.json`.
    public let config: PiperVoiceConfig
    /// Sizes read from the weights.
    public let architecture: PiperArchitecture
    /// Text encoder, duration predictor and flow, on the CPU.
    public let encoder: PiperEncoderStage
    /// HiFi-GAN, on the bound backend.
    public let decoder: PiperDecoderStage
    /// The `.onnx` file.
    public let modelPath: String

    /// Loads a voice and prepares its weights.
    ///
    /// - Parameters:
    ///   - modelPath: the `.onnx` file.
    ///   - configPath: the `.onnx.json`; nil reads `<modelPath>.json`.
    ///   - engine: where the decoder runs. The encoder stage always runs on the CPU: on this engine when it is
    ///     CPU-only, else on a CPU engine with the same threads.
    /// - Throws: `PiperError`: `.unreadableConfig`/`.invalidConfig` for the config, `.unreadableModel` for a file
    ///   that is not readable ONNX, `.notAPiperVoice` for ONNX that is not a Piper VITS voice (naming what is
    ///   missing), `.unsupportedVoice` for a voice this code cannot run.
    public init(modelPath: String, configPath: String? = nil, engine: ComputeEngine = ComputeEngine())
        throws(PiperError)
    {
        let configURL = URL(fileURLWithPath: configPath ?? modelPath + ".json")
        let config = try PiperVoiceConfig.load(from: configURL)
        let model: ONNXModel
        do {
            model = try ONNXModel(path: modelPath)
        } catch {
            throw PiperError(
                .unreadableModel, "not a readable ONNX model: \(error.description)", path: modelPath, cause: error)
        }
        try self.init(model: model, config: config, path: modelPath, engine: engine)
    }

    /// Builds a voice from an already parsed ONNX model and its config.
    public init(model: ONNXModel, config: PiperVoiceConfig, path: String, engine: ComputeEngine = ComputeEngine())
        throws(PiperError)
    {
        let weights = try PiperGraphWeights(model: model, path: path)
        let architecture = try PiperArchitecture(weights: weights)
        if let largest = config.phonemeIDMap.values.joined().max(), largest >= architecture.symbolCount {
            throw PiperError(
                .invalidConfig,
                "the phoneme id map uses id \(largest) but the voice has \(architecture.symbolCount) symbols",
                path: path + ".json")
        }
        let cpu = engine.isCPUOnly ? engine : ComputeEngine(backend: nil, threads: engine.cpu.threads)
        self.config = config
        self.architecture = architecture
        self.modelPath = path
        encoder = try PiperEncoderStage(weights: weights, architecture: architecture, engine: cpu)
        decoder = try PiperDecoderStage(weights: weights, architecture: architecture, engine: engine)
    }

    /// Output sample rate in Hz (from the config).
    public var sampleRate: Int { config.audio.sampleRate }

    /// The voice's default scales.
    public var defaultParameters: PiperSynthesisParameters { PiperSynthesisParameters(config.inference) }

    /// Synthesizes one sentence's phoneme ids in one go (both stages, the whole latent decoded at once).
    /// - Throws: `PiperError` `.invalidInput` for unusable ids or speaker, `.computeFailed` when an op fails.
    public func synthesize(ids: [Int], parameters: PiperSynthesisParameters? = nil) throws(PiperError) -> PiperAudio {
        let latent = try encoder.encode(ids: ids, parameters: parameters ?? defaultParameters)
        let clock = ContinuousClock()
        let start = clock.now
        let samples = try decoder.decode(latent)
        var timings = latent.timings
        timings.decoder = clock.now - start
        return PiperAudio(samples: samples, sampleRate: sampleRate, timings: timings)
    }
}
