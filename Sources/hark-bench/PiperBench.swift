import ArgumentParser
import Compute
import Foundation
import ModelStore
import PiperTTS
import Tensors

/// Times one Piper voice's stages on a fixed id sequence, each stage alone and best of several runs, with every
/// op's time summed over the runs: a low-noise A/B for model and kernel changes (`tts.py` runs the whole pipeline against
/// piper-tts, where the machine's noise hits both engines but blurs a few percent).
struct Piper: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Times a Piper voice's encoder stages and decoder on fixed ids (best of runs).")

    @Option(help: "A voice's .onnx (its .onnx.json beside it), or an installed voice's name.")
    var model = "en_US-joe-medium"

    @Option(help: "Phoneme ids in the sequence (Piper interleaves pads, so about twice the phonemes).")
    var ids = 160

    @Option(help: "Runs; each number is the best of them.")
    var runs = 10

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    func run() throws {
        let profile = ComputeProfile()
        let engine = ComputeEngine(threads: threads, profile: profile)
        let path = model.hasSuffix(".onnx") ? model : try ModelStore().installedModel(named: model).location.path
        let voice = try PiperVoice(modelPath: path, engine: engine)
        // ^ _ (p _)* $ in Piper's ids (^ 1, _ 0, $ 2), p drawn from 8–127, where espeak voices' maps put their
        // phonemes: the model takes any id below its symbol count, so a fixed pseudo-random walk stands in for a
        // sentence.
        var rng = SeededRandom(seed: 3)
        var sequence = [1, 0]
        while sequence.count < ids - 1 { sequence += [Int(rng.next() % 120) + 8, 0] }
        sequence.append(2)
        var parameters = voice.defaultParameters
        parameters.noiseScale = 0
        parameters.noiseW = 0
        var best = (
            encoder: Double.infinity, duration: Double.infinity, flow: Double.infinity, decoder: Double.infinity
        )
        var frames = 0
        let clock = ContinuousClock()
        for _ in 0..<runs {
            let latent = try voice.encoder.encode(ids: sequence, parameters: parameters)
            frames = latent.frameCount
            let start = clock.now
            _ = try voice.decoder.decode(latent)
            best.decoder = min(best.decoder, (clock.now - start) / .seconds(1))
            best.encoder = min(best.encoder, latent.timings.textEncoder / .seconds(1))
            best.duration = min(best.duration, latent.timings.durationPredictor / .seconds(1))
            best.flow = min(best.flow, latent.timings.flow / .seconds(1))
        }
        print("\(sequence.count) ids → \(frames) frames, \(engine.cpu.threads) threads, best of \(runs)")
        print(String(format: "text encoder        %8.2f ms", best.encoder * 1e3))
        print(String(format: "duration predictor  %8.2f ms", best.duration * 1e3))
        print(String(format: "flow                %8.2f ms", best.flow * 1e3))
        print(String(format: "decoder             %8.2f ms", best.decoder * 1e3))
        print("\nops over all runs (every stage):")
        for line in profile.report { print("  " + line) }
    }
}
