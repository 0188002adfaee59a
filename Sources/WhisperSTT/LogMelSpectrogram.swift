// Whisper's front end: 16 kHz samples → log-mel spectrogram.
// Follows faster-whisper's FeatureExtractor (faster_whisper/feature_extractor.py), itself a NumPy port of
// openai/whisper's audio.py `log_mel_spectrogram`:
// https://github.com/SYSTRAN/faster-whisper/blob/master/faster_whisper/feature_extractor.py
//
// Shapes: S = samples, T = frames (S / hop after padding), F = frequency bins (nFFT/2 + 1 = 201),
//         M = mel bins (80; 128 for large-v3).

import Compute
import Foundation
import Tensors

/// Computes Whisper's log-mel features with the backend layer: the windowed DFT and the mel filter bank
/// are two matrix products (`linear` ops) on prepared weights; framing, power and log are plain loops.
public struct LogMelSpectrogram: Sendable {
    public static let sampleRate = 16_000
    public static let nFFT = 400
    public static let hopLength = 160
    /// Frames in one 30 s window.
    public static let framesPerWindow = 3_000

    /// Mel bins (80 for every Whisper but large-v3's 128).
    public let melCount: Int
    private let engine: ComputeEngine
    /// [2F, nFFT]: rows 0..<F are window · cos(2πkn/N), rows F..<2F are window · −sin(2πkn/N).
    private let dft: PreparedWeight
    /// [M, F]: Slaney-normalised triangular mel filters.
    private let filters: PreparedWeight
    private static let bins = nFFT / 2 + 1

    public init(melCount: Int = 80, engine: ComputeEngine) throws(ComputeError) {
        self.melCount = melCount
        self.engine = engine
        dft = try engine.prepare(Self.dftBasis(), for: .linear)
        filters = try engine.prepare(Self.melFilters(count: melCount), for: .linear)
    }

    /// Log-mel features `[M, T]` of `samples` (16 kHz mono) after appending `padding` zero samples,
    /// where T = (S + padding) / hop. The clamp to max − 8 uses the maximum over the whole input, as the
    /// reference does.
    public func compute(_ samples: [Float], padding: Int = hopLength) throws(ComputeError) -> Tensor {
        let total = samples.count + padding
        let frames = total / Self.hopLength
        guard frames > 0 else { return Tensor(zeros: [melCount, 0]) }
        // The signal is the samples followed by `padding` zeros, reflect-padded by nFFT/2 on both sides
        // (center = True); frames read it through `sample(at:)` so no padded copy of a long file is made.
        let half = Self.nFFT / 2
        let sample = { (i: Int) -> Float in
            let j = Self.reflect(i - half, lower: 0, upper: total)
            return j < samples.count ? samples[j] : 0
        }
        var out = Tensor(zeros: [melCount, frames])
        var peak = -Float.infinity
        // Frames in blocks, so a long file never needs its whole [T, nFFT] frame matrix at once.
        let block = 3_000
        var start = 0
        while start < frames {
            let count = min(block, frames - start)
            var framed = Tensor(zeros: [count, Self.nFFT])
            framed.withUnsafeMutableFloats { f in
                for t in 0..<count {
                    let first = (start + t) * Self.hopLength
                    let row = f.baseAddress! + t * Self.nFFT
                    if first >= half && first - half + Self.nFFT <= samples.count {
                        row.update(
                            from: samples.withUnsafeBufferPointer { $0.baseAddress! } + first - half, count: Self.nFFT)
                    } else {
                        for n in 0..<Self.nFFT { row[n] = sample(first + n) }
                    }
                }
            }
            var spectrum = try engine.linear(framed, dft)  // [count, 2F]
            var power = Tensor(zeros: [count, Self.bins])
            spectrum.withUnsafeMutableFloats { s in
                power.withUnsafeMutableFloats { p in
                    for t in 0..<count {
                        let row = s.baseAddress! + t * 2 * Self.bins
                        for k in 0..<Self.bins {
                            p[t * Self.bins + k] = row[k] * row[k] + row[Self.bins + k] * row[Self.bins + k]
                        }
                    }
                }
            }
            let mel = try engine.linear(power, filters)  // [count, M]
            mel.withUnsafeFloats { m in
                out.withUnsafeMutableFloats { o in
                    for t in 0..<count {
                        for k in 0..<melCount {
                            let v = log10(max(m[t * melCount + k], 1e-10))
                            peak = max(peak, v)
                            o[k * frames + start + t] = v
                        }
                    }
                }
            }
            start += count
        }
        // Clamp to the global maximum − 8 and scale.
        let floor = peak - 8
        out.withUnsafeMutableFloats { o in
            for i in o.indices { o[i] = (max(o[i], floor) + 4) / 4 }
        }
        return out
    }

    /// Index of a reflected sample inside [lower, upper) (NumPy's "reflect": the edge is not repeated).
    private static func reflect(_ i: Int, lower: Int, upper: Int) -> Int {
        let n = upper - lower
        guard n > 1 else { return lower }
        var j = i - lower
        let period = 2 * (n - 1)
        j = ((j % period) + period) % period
        return lower + (j < n ? j : period - j)
    }

    /// The periodic Hann window folded into a real DFT basis, computed in Double.
    static func dftBasis() -> Tensor {
        let n = nFFT
        var basis = [Float](repeating: 0, count: 2 * bins * n)
        for i in 0..<n {
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
            for k in 0..<bins {
                let angle = 2 * Double.pi * Double(k * i % n) / Double(n)
                basis[k * n + i] = Float(window * cos(angle))
                basis[(bins + k) * n + i] = Float(-window * sin(angle))
            }
        }
        return Tensor(shape: [2 * bins, n], floats: basis)
    }

    /// librosa's Slaney mel filter bank for 16 kHz and nFFT 400, as faster-whisper computes it.
    static func melFilters(count: Int) -> Tensor {
        let fftFreqs = (0..<bins).map { Double($0) * Double(sampleRate) / Double(nFFT) }
        let maxMel = 45.245640471924965
        let mels = (0..<(count + 2)).map { maxMel * Double($0) / Double(count + 1) }
        let fSp = 200.0 / 3
        let minLogHz = 1000.0
        let minLogMel = minLogHz / fSp
        let logStep = log(6.4) / 27
        let freqs = mels.map { $0 >= minLogMel ? minLogHz * exp(logStep * ($0 - minLogMel)) : fSp * $0 }
        var weights = [Float](repeating: 0, count: count * bins)
        for m in 0..<count {
            let enorm = 2 / (freqs[m + 2] - freqs[m])
            for k in 0..<bins {
                let lower = (fftFreqs[k] - freqs[m]) / (freqs[m + 1] - freqs[m])
                let upper = (freqs[m + 2] - fftFreqs[k]) / (freqs[m + 2] - freqs[m + 1])
                weights[m * bins + k] = Float(max(0, min(lower, upper)) * enorm)
            }
        }
        return Tensor(shape: [count, bins], floats: weights)
    }
}
