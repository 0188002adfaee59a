import Compute
import Foundation
import PiperTTS
import Tensors
import Testing

/// Hark's VITS against onnxruntime running the same `.onnx` (scripts/reference/piper_reference.py, run here into
/// a temporary folder), with noise_scale = noise_w = 0 so both are deterministic: on 20 phoneme-id sentences of
/// 5 to 401 ids, the same number of samples, max |Δ| ≤ 1e-3 and SNR ≥ 40 dB each. And chunked decoding (first
/// chunk small, later ones larger, 12 frames of margin) equals one-shot decoding to 1e-5.
@Suite("Piper VITS against onnxruntime", .serialized)
struct PiperExactnessTests {
    /// Phonemes per sentence; a sentence of n phonemes has 2n + 3 ids.
    static let phonemeCounts = [1, 3, 5, 8, 12, 16, 20, 25, 30, 40, 50, 60, 75, 90, 110, 130, 150, 170, 185, 199]

    @Test("waveforms match onnxruntime: same length, max |Δ| ≤ 1e-3, SNR ≥ 40 dB on 20 sentences up to 401 ids")
    func matchesOnnxRuntime() throws {
        let voice = try PiperTestSupport.voice.get()
        let sequences = Self.phonemeCounts.enumerated().map { i, n in
            PiperTestSupport.sequence(phonemes: n, config: voice.config, seed: 1000 + UInt64(i))
        }
        #expect(sequences.count >= 20 && sequences.last!.count >= 400)
        let references = try PiperTestSupport.reference(sequences, model: voice.modelPath)
        #expect(references.count == sequences.count)
        let parameters = PiperSynthesisParameters(noiseScale: 0, lengthScale: 1, noiseW: 0)
        var summary: [String] = []
        for (ids, reference) in zip(sequences, references) {
            #expect(reference.ids == ids)
            let audio = try voice.synthesize(ids: ids, parameters: parameters)
            #expect(
                audio.samples.count == reference.samples.count,
                "\(ids.count) ids: \(audio.samples.count) samples, onnxruntime \(reference.samples.count)")
            guard audio.samples.count == reference.samples.count else { continue }
            let (maxError, snr) = PiperTestSupport.compare(audio.samples, reference.samples)
            #expect(maxError <= 1e-3, "\(ids.count) ids: max |Δ| \(maxError)")
            #expect(snr >= 40, "\(ids.count) ids: SNR \(snr) dB")
            summary.append(
                "\(ids.count) ids, \(audio.samples.count) samples: max |Δ| \(maxError), SNR \(String(format: "%.1f", snr)) dB"
            )
        }
        print("Piper vs onnxruntime:\n  " + summary.joined(separator: "\n  "))
    }

    @Test("chunked decoding (small first chunk, growing chunks, 12 frames of margin) equals one-shot decoding")
    func chunkedEqualsOneShot() throws {
        let voice = try PiperTestSupport.voice.get()
        let ids = PiperTestSupport.sequence(phonemes: 90, config: voice.config, seed: 7)
        let latent = try voice.encoder.encode(
            ids: ids, parameters: PiperSynthesisParameters(noiseScale: 0.667, seed: 3))
        let oneShot = try voice.decoder.decode(latent)
        #expect(oneShot.count == latent.frameCount * voice.architecture.hopLength)

        for (first, largest) in [(16, 64), (8, 32), (32, 256)] {
            let chunks = PiperDecoderStage.chunks(
                frameCount: latent.frameCount, firstChunk: first, maximumChunk: largest)
            #expect(chunks.first?.lowerBound == 0 && chunks.last?.upperBound == latent.frameCount)
            #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(chunks.count > 2 && chunks[0].count <= first && chunks[1].count > chunks[0].count)
            var chunked: [Float] = []
            for range in chunks {
                chunked += try voice.decoder.decode(latent, frames: range, margin: PiperDecoderStage.minimumMargin)
            }
            #expect(chunked.count == oneShot.count)
            let (maxError, _) = PiperTestSupport.compare(chunked, oneShot)
            #expect(maxError <= 1e-5, "chunks \(chunks.map(\.count)): max |Δ| \(maxError)")
            print("Piper chunked (\(chunks.map(\.count))) vs one-shot: max |Δ| \(maxError)")
        }
    }

    @Test("noise is seeded: the same seed gives the same audio, noise 0 ignores the seed")
    func seededNoise() throws {
        let voice = try PiperTestSupport.voice.get()
        let ids = PiperTestSupport.sequence(phonemes: 12, config: voice.config, seed: 11)
        let a = try voice.synthesize(ids: ids, parameters: PiperSynthesisParameters(seed: 5)).samples
        let b = try voice.synthesize(ids: ids, parameters: PiperSynthesisParameters(seed: 5)).samples
        let c = try voice.synthesize(ids: ids, parameters: PiperSynthesisParameters(seed: 6)).samples
        #expect(a == b)
        #expect(a != c)
        let quiet = PiperSynthesisParameters(noiseScale: 0, noiseW: 0, seed: 1)
        var other = quiet
        other.seed = 2
        #expect(
            try voice.synthesize(ids: ids, parameters: quiet).samples
                == voice.synthesize(ids: ids, parameters: other).samples)
    }
}
