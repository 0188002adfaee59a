import ArgumentParser
import COpenBLAS
import Compute
import Foundation
import Tensors

/// Micro-benchmarks of the backend layer: Hark's ops at the shapes Whisper tiny and Piper's HiFi-GAN
/// (medium) use, each printed next to OpenBLAS's own sgemm at the same product shape, plus the square
/// 512×512 sgemm that marks this machine's ceiling. Benchmarks are not tests: they print numbers.
@main
struct HarkBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hark-bench", abstract: "Measures Hark's backend layer.",
        subcommands: [Ops.self, Parity.self, Bandwidth.self, Quant.self, LLM.self, Piper.self, Project.self],
        defaultSubcommand: Ops.self)

    static func main() {
        exitWithoutLibraryDestructors()  // see Compute/CPU/ProcessExit.swift: it calls BLAS from several threads
        main(nil)
    }
}

/// Prints the op parity harness's report for the CPU backend (every case, its NMSE and tolerance).
struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks every op of the CPU backend against the reference.")

    @Option(help: "Seed for the random shapes and values.")
    var seed: UInt64 = 1

    func run() throws {
        let results = OpParity.check(CPUBackend(), cases: OpParity.standardCases(seed: seed))
        for r in results { print(r) }
        let failed = results.filter { $0.status == .failed }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}

struct Ops: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Times Hark's compute ops against OpenBLAS sgemm.")

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(help: "Minimum seconds spent timing each op.")
    var seconds: Double = 0.5

    func run() throws {
        let engine = ComputeEngine(threads: threads)
        var rng = SeededRandom(seed: 7)
        print("Hark compute micro-benchmark — backend \(engine.backend.name), \(engine.cpu.threads) threads")
        print("GFLOP/s are best-of-runs; 'sgemm' is OpenBLAS called directly on the same product shape.\n")

        let square = timeSgemm(m: 512, k: 512, n: 512)
        print(String(format: "OpenBLAS sgemm 512×512×512 (ceiling): %7.1f GFLOP/s\n", square))
        print(pad("op", 52) + pad("ms", 10) + pad("GFLOP/s", 10) + pad("sgemm", 10) + "ratio")

        // Whisper tiny: encoder over a 30 s window (1500 frames), decoder steps (1 token), logits.
        let linears: [(String, Int, Int, Int, DType)] = [
            ("whisper enc qkv  1500×384 → 1152", 1500, 384, 1152, .f16),
            ("whisper enc out  1500×384 → 384", 1500, 384, 384, .f16),
            ("whisper enc fc1  1500×384 → 1536", 1500, 384, 1536, .f16),
            ("whisper enc fc2  1500×1536 → 384", 1500, 1536, 384, .f16),
            ("whisper dec qkv  1×384 → 1152", 1, 384, 1152, .f16),
            ("whisper dec fc1  1×384 → 1536", 1, 384, 1536, .f16),
            ("whisper logits   1×384 → 51864", 1, 384, 51864, .f16),
        ]
        for (label, m, k, n, dtype) in linears {
            let x = rng.tensor([m, k])
            let w = try engine.prepare(rng.tensor([n, k], scale: 0.1, dtype: dtype), for: .linear)
            let b = rng.tensor([n])
            var y = Tensor(zeros: [m, n])
            let t = time { try? engine.linear(x, w, bias: b, into: &y) }
            report("linear \(label)", t, flops: 2.0 * Double(m * k * n), sgemm: timeSgemm(m: m, k: k, n: n))
        }

        // Whisper's encoder self-attention over a 30 s window: 6 heads of 1500 × 1500 × 64 read from the
        // fused qkv rows, as the encoder calls it (HARK_CPU_KERNELS=avx2 times the portable kernel).
        do {
            let (rows, heads, e) = (1500, 6, 64)
            let width = heads * e
            let qkv = rng.tensor([rows, 3 * width])
            func view(_ part: Int) -> MatrixView {
                MatrixView(
                    offset: part * width, batch: heads, rows: rows, cols: e, rowStride: 3 * width, batchStride: e)
            }
            var y = Tensor(zeros: [rows, width])
            let ov = MatrixView(batch: heads, rows: rows, cols: e, rowStride: width, batchStride: e)
            let scale = 1 / Float(e).squareRoot()
            let t = time {
                try? engine.attention(
                    qkv, view(0), qkv, view(1), qkv, view(2), scale: scale, causalOffset: nil, into: &y, ov)
            }
            report(
                "attention whisper enc 6×1500×1500×64", t, flops: 2.0 * Double(heads * rows * rows * 2 * e),
                sgemm: timeSgemm(m: rows, k: e, n: rows))
        }
        // A decoder step's cross-attention: one row per head against the encoder's 1500 keys and values,
        // f32 (float32) and f16 (int8's cache); sgemm is the same-shape sgemv.
        for dtype in [DType.f32, .f16] {
            let (keys, heads, e) = (1500, 6, 64)
            let width = heads * e
            let q = rng.tensor([1, width])
            let kv = rng.tensor([keys, 2 * width], dtype: dtype)
            let qv = MatrixView(batch: heads, rows: 1, cols: e, rowStride: width, batchStride: e)
            let kView = MatrixView(batch: heads, rows: keys, cols: e, rowStride: 2 * width, batchStride: e)
            let vView = MatrixView(
                offset: width, batch: heads, rows: keys, cols: e, rowStride: 2 * width, batchStride: e)
            var y = Tensor(zeros: [1, width])
            let scale = 1 / Float(e).squareRoot()
            let t = time {
                try? engine.attention(q, qv, kv, kView, kv, vView, scale: scale, causalOffset: nil, into: &y, qv)
            }
            report(
                "attention whisper dec cross 6×1×1500×64 \(dtype)", t, flops: 2.0 * Double(heads * keys * 2 * e),
                sgemm: timeSgemm(m: 1, k: e, n: keys))
        }

        // Convolutions: Whisper's stem, then HiFi-GAN medium over one second of audio (86 frames).
        let convs: [(String, Int, Int, Int, Int, Conv1DParams)] = [
            ("whisper conv1  80→384 k3 L3000", 80, 384, 3, 3000, Conv1DParams(padding: 1)),
            ("whisper conv2  384→384 k3 s2 L3000", 384, 384, 3, 3000, Conv1DParams(stride: 2, padding: 1)),
            ("hifigan conv_pre 192→256 k7 L86", 192, 256, 7, 86, Conv1DParams(padding: 3)),
            ("hifigan res 128 k7 d3 L688", 128, 128, 7, 688, Conv1DParams(dilation: 3, padding: 9)),
            ("hifigan res 64 k7 d12 L5504", 64, 64, 7, 5504, Conv1DParams(dilation: 12, padding: 36)),
            ("hifigan res 64 k3 d1 L5504", 64, 64, 3, 5504, Conv1DParams(padding: 1)),
            ("hifigan res 32 k7 d3 L22016", 32, 32, 7, 22016, Conv1DParams(dilation: 3, padding: 9)),
            ("hifigan res 32 k3 d1 L22016", 32, 32, 3, 22016, Conv1DParams(padding: 1)),
            // A decoder time tile of the last stage (about 1 MB per tensor).
            ("hifigan res 32 k5 d2 L8192", 32, 32, 5, 8192, Conv1DParams(dilation: 2, padding: 4)),
            ("hifigan res 32 k3 d1 L8192", 32, 32, 3, 8192, Conv1DParams(padding: 1)),
            ("hifigan res 64 k3 d2 L4096", 64, 64, 3, 4096, Conv1DParams(dilation: 2, padding: 2)),
            ("hifigan res 128 k3 d1 L688", 128, 128, 3, 688, Conv1DParams(padding: 1)),
            ("hifigan conv_post 32→1 k7 L22016", 32, 1, 7, 22016, Conv1DParams(padding: 3)),
            // Piper's flow (WaveNet layers over a sentence's ~400 frames) and text encoder FFN (~150 phonemes).
            ("vits flow in_layer 192→384 k5 L400", 192, 384, 5, 400, Conv1DParams(padding: 2)),
            ("vits flow res_skip 192→384 k1 L400", 192, 384, 1, 400, Conv1DParams()),
            ("vits flow in_layer 192→384 k5 L76", 192, 384, 5, 76, Conv1DParams(padding: 2)),
            ("vits encoder ffn 192→768 k3 L150", 192, 768, 3, 150, Conv1DParams(padding: 1)),
            ("vits encoder ffn 768→192 k3 L150", 768, 192, 3, 150, Conv1DParams(padding: 1)),
            ("vits encoder ffn 192→768 k3 L41", 192, 768, 3, 41, Conv1DParams(padding: 1)),
            ("vits encoder ffn 768→192 k3 L41", 768, 192, 3, 41, Conv1DParams(padding: 1)),
            ("vits encoder ffn 192→768 k3 L80", 192, 768, 3, 80, Conv1DParams(padding: 1)),
            ("vits encoder ffn 768→192 k3 L80", 768, 192, 3, 80, Conv1DParams(padding: 1)),
        ]
        for (label, cin, cout, k, len, p) in convs {
            let x = rng.tensor([cin, len])
            let w = try engine.prepare(rng.tensor([cout, cin, k], scale: 0.1), for: .conv1d(p))
            var y = Tensor(zeros: [cout, p.outputLength(input: len, kernel: k)])
            let t = time { try? engine.conv1d(x, w, params: p, into: &y) }
            let tout = y.shape[1]
            report(
                "conv1d \(label)", t, flops: 2.0 * Double(cout * cin * k * tout),
                sgemm: timeSgemm(m: cout, k: cin * k, n: tout))
        }
        let ups: [(String, Int, Int, Int, Int, ConvTranspose1DParams)] = [
            ("hifigan up0 256→128 k16 s8 L86", 256, 128, 16, 86, ConvTranspose1DParams(stride: 8, padding: 4)),
            ("hifigan up1 128→64 k16 s8 L688", 128, 64, 16, 688, ConvTranspose1DParams(stride: 8, padding: 4)),
            ("hifigan up2 64→32 k8 s4 L5504", 64, 32, 8, 5504, ConvTranspose1DParams(stride: 4, padding: 2)),
            // A decoder time tile's upsampler (about 1 MB of output).
            ("hifigan up0 256→128 k16 s8 L262", 256, 128, 16, 262, ConvTranspose1DParams(stride: 8, padding: 4)),
            ("hifigan up1 128→64 k16 s8 L518", 128, 64, 16, 518, ConvTranspose1DParams(stride: 8, padding: 4)),
            ("hifigan up2 64→32 k8 s4 L2072", 64, 32, 8, 2072, ConvTranspose1DParams(stride: 4, padding: 2)),
        ]
        for (label, cin, cout, k, len, p) in ups {
            let x = rng.tensor([cin, len])
            let w = try engine.prepare(rng.tensor([cin, cout, k], scale: 0.1), for: .convTranspose1d(p))
            var y = Tensor(zeros: [cout, p.outputLength(input: len, kernel: k)])
            let t = time { try? engine.convTranspose1d(x, w, params: p, into: &y) }
            report(
                "convT  \(label)", t, flops: 2.0 * Double(cin * cout * k * len),
                sgemm: timeSgemm(m: cout * k, k: cin, n: len))
        }

        // The rest of a Whisper encoder layer over 1500 frames: bandwidth-bound, so GB/s (read + write).
        print("\n" + pad("op", 52) + pad("ms", 10) + "GB/s")
        let rows = rng.tensor([1500, 384])
        let gamma = rng.tensor([384])
        let scores = rng.tensor([6, 1500, 1500])
        let hidden = rng.tensor([1500, 1536])
        let rng0 = rng.tensor([1536])
        let others: [(String, Tensor, (inout Tensor) -> Void)] = [
            ("gelu (erf) 1500×1536", hidden, { try? engine.activation(.gelu, &$0) }),
            ("silu 1500×1536", hidden, { try? engine.activation(.silu, &$0) }),
            ("layer_norm 1500×384", rows, { try? engine.layerNorm(&$0, gamma: gamma, beta: gamma) }),
            ("softmax 6×1500×1500", scores, { try? engine.softmax(&$0) }),
            ("add bias 1500×1536 + 1536", hidden, { try? engine.add(&$0, rng0) }),
        ]
        for (label, input, body) in others {
            var x = input
            x.makeUnique()
            let t = time { body(&x) }
            print(
                pad(label, 52) + pad(String(format: "%.3f", t * 1e3), 10)
                    + String(format: "%.1f", Double(input.byteCount * 2) / t / 1e9))
        }
    }

    func report(_ label: String, _ seconds: Double, flops: Double, sgemm: Double) {
        let g = flops / seconds / 1e9
        print(
            pad(label, 52) + pad(String(format: "%.3f", seconds * 1e3), 10) + pad(String(format: "%.1f", g), 10)
                + pad(String(format: "%.1f", sgemm), 10) + String(format: "%.2f", g / sgemm))
    }

    /// Best time of `body` over repeated runs spending at least `seconds` in total.
    func time(_ body: () -> Void) -> Double { bestTime(seconds: seconds, minimumRuns: 3, body) }

    /// GFLOP/s of OpenBLAS sgemm (sgemv when m = 1) on an m×k by k×n product.
    func timeSgemm(m: Int, k: Int, n: Int) -> Double {
        var a = [Float](repeating: 0.5, count: m * k)
        var b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let t = a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeMutableBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    time {
                        if m == 1 {
                            cblas_sgemv(
                                CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, bp.baseAddress, Int32(k),
                                ap.baseAddress, 1, 0, cp.baseAddress, 1)
                        } else {
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                                ap.baseAddress, Int32(k), bp.baseAddress, Int32(n), 0, cp.baseAddress, Int32(n))
                        }
                    }
                }
            }
        }
        return 2.0 * Double(m * k * n) / t / 1e9
    }
}
