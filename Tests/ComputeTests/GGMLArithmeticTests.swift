import Foundation
import Tensors
import Testing

@testable import Compute

/// `Arithmetic.ggml`'s kernels (CKernels/ggml_arith.c): the AVX-512 bodies against the portable ones bit for bit
/// (so every CPU gets the same numbers), and each against plain math within its rounding (so they compute what they
/// claim). That they are llama.cpp's numbers is LlamaParityTests' part: the model's logits equal llama.cpp's.
@Suite("llama.cpp's CPU arithmetic (ggml kernels)")
struct GGMLArithmeticTests {
    /// Elements whose bits differ.
    func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }

    @Test("8-bit quantization: d = f16(max/127), q = round(x·127/max), s = f16(d·Σq); vector = portable")
    func quantize() {
        var rng = SeededRandom(seed: 11)
        var x = rng.tensor([8 * 32], scale: 3).floats()
        for j in 32..<64 { x[j] = 0 }  // an all-zero block: d = 0, q = 0
        x[70] = 0.5 * 127 / 3  // a tie the rounding breaks to even
        for withSum in [false, true] {
            let a = GGMLKernels.quantize(x, withSum: withSum, portable: false)
            let b = GGMLKernels.quantize(x, withSum: withSum, portable: true)
            #expect(a.q == b.q && differing(a.d, b.d) == 0 && differing(a.s, b.s) == 0)
            for blk in 0..<8 {
                let block = x[(blk * 32)..<(blk * 32 + 32)]
                let amax = block.map(abs).max()!
                #expect(a.d[blk] == Float(Float16(amax / 127)))
                for j in block.indices {
                    let expected = amax == 0 ? 0 : (x[j] * (127 / amax)).rounded(.toNearestOrEven)
                    #expect(Float(a.q[j]) == expected)
                }
                if withSum {
                    let sum = a.q[(blk * 32)..<(blk * 32 + 32)].reduce(0) { $0 + Int($1) }
                    #expect(a.s[blk] == Float(Float16(amax / 127 * Float(sum))))
                }
            }
        }
    }

    @Test("SwiGLU with ggml's exp: vector = portable, within 2e-6 of silu(g)·u", arguments: [1536, 1543, 9])
    func swiglu(n: Int) {
        var rng = SeededRandom(seed: 5)
        let g = rng.tensor([n], scale: 6).floats()
        let u = rng.tensor([n], scale: 2).floats()
        let a = GGMLKernels.swiglu(g, u, portable: false)
        #expect(differing(a, GGMLKernels.swiglu(g, u, portable: true)) == 0)
        for i in 0..<n {
            let exact = Double(g[i]) / (1 + Foundation.exp(-Double(g[i]))) * Double(u[i])
            #expect(abs(Double(a[i]) - exact) <= 2e-6 * max(1, abs(exact)), "element \(i)")
        }
    }

    struct AttentionCase: Sendable, CustomStringConvertible {
        let rows: Int
        let past: Int
        let headDim: Int
        var description: String { "rows \(rows) past \(past) E \(headDim)" }
    }

    @Test(
        "attention: vector = portable, within f16 rounding of softmax(q·kᵀ)·v",
        arguments: [
            AttentionCase(rows: 1, past: 0, headDim: 64), AttentionCase(rows: 1, past: 69, headDim: 64),
            AttentionCase(rows: 1, past: 200, headDim: 128), AttentionCase(rows: 7, past: 0, headDim: 64),
            AttentionCase(rows: 5, past: 61, headDim: 64), AttentionCase(rows: 3, past: 17, headDim: 128),
            AttentionCase(rows: 4, past: 3, headDim: 48),
        ])
    func attention(_ c: AttentionCase) {
        var rng = SeededRandom(seed: UInt64(c.rows * 1000 + c.past))
        let keys = c.past + c.rows
        let e = c.headDim
        let q = rng.tensor([c.rows * e], scale: 2).floats()
        let k = rng.tensor([keys * e], scale: 2).floats().map { Float16($0).bitPattern }
        let v = rng.tensor([keys * e]).floats().map { Float16($0).bitPattern }
        let scale = 1 / Float(e).squareRoot()
        let a = GGMLKernels.attention(
            q: q, k: k, v: v, rows: c.rows, keys: keys, past: c.past, headDim: e, scale: scale, portable: false)
        let b = GGMLKernels.attention(
            q: q, k: k, v: v, rows: c.rows, keys: keys, past: c.past, headDim: e, scale: scale, portable: true)
        #expect(differing(a, b) == 0)
        for r in 0..<c.rows {
            let visible = c.past + r + 1
            var scores = (0..<visible).map { p in
                (0..<e).reduce(0.0) { $0 + Double(q[r * e + $1]) * Double(Float(Float16(bitPattern: k[p * e + $1]))) }
                    * Double(scale)
            }
            let top = scores.max()!
            scores = scores.map { Foundation.exp($0 - top) }
            let total = scores.reduce(0, +)
            for j in 0..<e {
                let exact = (0..<visible).reduce(0.0) {
                    $0 + scores[$1] / total * Double(Float(Float16(bitPattern: v[$1 * e + j])))
                }
                // f16 queries and weights: a few 1e-3 relative to the values' scale.
                #expect(abs(Double(a[r * e + j]) - exact) <= 1e-2, "row \(r) feature \(j)")
            }
        }
    }

    @Test(
        "products on 8-bit activations: the packed kernel = the portable one, within the rounding of x·Wᵀ",
        arguments: [DType.q4_0, .q4_1, .q8_0])
    func linear(dtype: DType) throws {
        var rng = SeededRandom(seed: 21)
        let (n, k) = (40, 96)  // two row groups of 16 and 8 rows past them
        let values = rng.tensor([n, k]).floats()
        let w = Quantization.quantize(values, shape: [n, k], as: dtype)
        let engine = ComputeEngine(threads: 2)
        let prepared = try engine.prepare(w, for: .linear)
        let dense = Quantization.dequantize(w)
        for m in [1, 3, 6] {
            let x = rng.tensor([m, k], scale: 2)
            var y = Tensor(zeros: [m, n])
            try engine.linear(x, prepared, into: &y, arithmetic: .ggml)
            let fast = y.floats()
            let portable = GGMLKernels.linear(x.floats(), weight: w)
            #expect(differing(fast, portable) == 0, "m \(m)")
            for vnni in [false, true] where !vnni || QuantizedMatrix.vnni {
                if let packed = GGMLKernels.packedLinear(x.floats(), weight: w, vnni: vnni) {
                    // The packed kernel covers the two whole groups of 16 rows.
                    for i in 0..<m {
                        let rows = (i * n)..<(i * n + 32)
                        #expect(differing(Array(packed[rows]), Array(portable[rows])) == 0, "m \(m) vnni \(vnni)")
                    }
                }
            }
            let xs = x.floats()
            for i in 0..<m {
                for j in 0..<n {
                    var exact = 0.0
                    var magnitude = 0.0
                    for c in 0..<k {
                        exact += Double(xs[i * k + c]) * Double(dense[j * k + c])
                        magnitude += abs(Double(xs[i * k + c]) * Double(dense[j * k + c]))
                    }
                    // x rounded to 8 bits: at most half a step of max|x|/127 per element.
                    #expect(abs(Double(fast[i * n + j]) - exact) <= 0.01 * magnitude + 1e-4, "m \(m) [\(i), \(j)]")
                }
            }
        }
    }

    @Test("RMSNorm and RoPE in ggml's arithmetic agree with the native ops to f32 rounding")
    func normAndRope() throws {
        let engine = ComputeEngine(threads: 1)
        var rng = SeededRandom(seed: 8)
        let x = rng.tensor([3, 576], scale: 4)
        let gamma = rng.tensor([576])
        var a = x
        var b = x
        try engine.rmsNorm(&a, gamma: gamma, epsilon: 1e-5, arithmetic: .ggml)
        try engine.rmsNorm(&b, gamma: gamma, epsilon: 1e-5)
        for (p, r) in zip(a.floats(), b.floats()) { #expect(abs(p - r) <= 1e-5 * max(1, abs(r))) }
        for mode in [RoPEMode.interleaved, .halves] {
            var q = rng.tensor([4, 3, 64])
            var native = q
            try engine.rope(&q, positions: [0, 5, 77, 300], base: 100_000, mode: mode, arithmetic: .ggml)
            try engine.rope(&native, positions: [0, 5, 77, 300], base: 100_000, mode: mode)
            for (p, r) in zip(q.floats(), native.floats()) { #expect(abs(p - r) <= 1e-3, "\(mode)") }
        }
    }
}
