import CQuantKernels
import Tensors
import Testing

@testable import Compute

/// Decoding with q4_0 / q4_1 / q8_0 weights through `QuantizedDot`'s C kernels: x quantized to int8 blocks,
/// integer dot products per block (ggml's way). Checked against the dequantized-weight f32 reference under
/// ggml's bound, the vector path against the portable scalar one, and the activation quantizer itself.
@Suite("Quantized-activation decoding kernels (C)")
struct QuantizationActivationTests {
    /// Odd row counts (fewer than a thread's share, a tall head), one block per row, k not a multiple of 256
    /// (odd block counts, two or three blocks past the last four), one to four rows of x.
    static let shapes: [(m: Int, k: Int, n: Int)] = [
        (1, 32, 33), (2, 160, 129), (4, 1184, 7), (1, 1376, 4099), (3, 2080, 65), (1, 576, 1536),
    ]

    @Test("x quantizes to blocks within half a step, with s = d · Σ q, in either order", arguments: [0, 1])
    func activationQuantizer(nibblePairs: Int32) {
        var rng = SeededRandom(seed: 21)
        var x = rng.tensor([160], scale: 3).floats()
        x[32..<64] = ArraySlice(repeating: 0, count: 32)  // an all-zero block: d = 0, no division by zero
        var ds = [Float](repeating: .nan, count: 10)
        var qs = [Int8](repeating: 0, count: 160)
        hark_quantize_q8(x, x.count, nibblePairs, &ds, &qs)
        for b in 0..<5 {
            // Blocks 0 and 1, 2 and 3 paired (elements 0–15 of each, then 16–31 of each); block 4 unpaired.
            let q = (0..<32).map { j in
                nibblePairs == 0 || b == 4 ? qs[32 * b + j] : qs[64 * (b / 2) + 32 * (j / 16) + 16 * (b % 2) + j % 16]
            }
            let values = x[(b * 32)..<(b * 32 + 32)]
            let d = ds[2 * b]
            #expect(d == values.map(abs).max()! / 127)
            #expect(ds[2 * b + 1] == d * Float(q.reduce(0) { $0 + Int($1) }))
            for (j, v) in values.enumerated() {
                #expect(abs(Float(q[j]) * d - v) <= d * 0.5 * 1.0001, "block \(b) element \(j)")
            }
        }
        #expect(ds[2] == 0 && ds[3] == 0)
    }

    @Test(
        "decoding matches the f32 reference within ggml's quantized-activation bound",
        arguments: [DType.q4_0, .q4_1, .q8_0])
    func matchesReference(dtype: DType) throws {
        var rng = SeededRandom(seed: 22)
        for (m, k, n) in Self.shapes {
            let w = Quantization.quantize(rng.tensor([n, k], scale: 0.3).floats(), shape: [n, k], as: dtype)
            let x = rng.tensor([m, k])
            let bias = n % 2 == 1 ? rng.tensor([n]) : nil
            let ref = reference(w, x: x, bias: bias)
            let out = run(w, x: x, bias: bias, threads: 3, kernel: .engine)
            let nmse = OpParity.compare(out, ref).nmse
            #expect(nmse <= OpParity.Tolerance.linear(m: m, weight: dtype), "\(dtype) \(m)×\(k)→\(n)")
            // What the path measures today (2e-6 … 4e-5), well inside the bound: a regression shows here first.
            if QuantizedDot.enabled { #expect(nmse < 1e-4, "\(dtype) \(m)×\(k)→\(n): nmse \(nmse)") }
            // The Swift float kernels, kept as the fallback, stay exact.
            let exact = run(w, x: x, bias: bias, threads: 3, kernel: .swift)
            #expect(OpParity.compare(exact, ref).nmse < OpParity.Tolerance.products, "\(dtype) \(m)×\(k)→\(n)")
        }
    }

    @Test("the vector kernels agree with the portable scalar ones", arguments: [DType.q4_0, .q4_1, .q8_0])
    func vectorMatchesScalar(dtype: DType) {
        var rng = SeededRandom(seed: 23)
        for (m, k, n) in Self.shapes {
            let w = Quantization.quantize(rng.tensor([n, k], scale: 0.3).floats(), shape: [n, k], as: dtype)
            let x = rng.tensor([m, k])
            let vector = run(w, x: x, bias: nil, threads: 2, kernel: .c(scalar: false))
            let scalar = run(w, x: x, bias: nil, threads: 2, kernel: .c(scalar: true))
            // Same integer block sums; only the order of the f32 block accumulation differs.
            #expect(OpParity.compare(vector, scalar).nmse < 1e-11, "\(dtype) \(m)×\(k)→\(n)")
        }
    }

    // MARK: - Helpers

    enum Kernel {
        case engine
        case swift
        case c(scalar: Bool)
    }

    /// y = x · Wᵀ + bias through the CPU backend's dispatch, the Swift float kernels, or the C kernels.
    private func run(_ w: Tensor, x: Tensor, bias: Tensor?, threads: Int, kernel: Kernel) -> Tensor {
        let (m, n, k, dtype) = (x.shape[0], w.shape[0], w.shape[1], w.dtype)
        var y = Tensor(zeros: [m, n])
        x.withUnsafeFloats { xp in
            w.withUnsafeBytes { wp in
                y.withUnsafeMutableFloats { yp in
                    let (w, x, y) = (wp.baseAddress!, xp.baseAddress!, yp.baseAddress!)
                    switch kernel {
                    case .engine:
                        QuantizedMatrix.run(
                            w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
                    case .swift:
                        QuantizedMatrix.matrixVector(
                            w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
                    case .c(let scalar):
                        QuantizedDot.matrixVector(
                            w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads,
                            scalar: scalar)
                    }
                }
            }
        }
        return y
    }

    /// The reference backend's product of x with the dequantized weight.
    private func reference(_ w: Tensor, x: Tensor, bias: Tensor?) -> Tensor {
        var ref = Tensor(zeros: [x.shape[0], w.shape[0]])
        let rw = PreparedWeight(original: w, use: .linear, cpu: w, native: w, nativeBackend: "reference")
        try? ReferenceBackend().linear(x, weight: rw, bias: bias, into: &ref)
        return ref
    }
}
