import Tensors
import Testing

@testable import Compute

/// The fused attention kernel: against the reference on both of its paths, against the products-and-softmax
/// path it replaced on Whisper's encoder shape, and the engine's CPU fallback for backends without it.
@Suite("Attention")
struct AttentionTests {
    @Test("the parity cases cover the tiled and the row-wise kernel, causal and not, grouped-query heads")
    func coverage() {
        let ops = OpParity.standardCases().map(\.op).filter { $0.name == "attention" }
        var shapes: [(rows: Int, causal: Bool, grouped: Bool)] = []
        for op in ops {
            if case .attention(let h, let kvh, let r, _, _, let causal) = op { shapes.append((r, causal, kvh < h)) }
        }
        #expect(shapes.contains { $0.rows >= AttentionKernels.packedFrom && !$0.causal })
        #expect(shapes.contains { $0.rows >= AttentionKernels.packedFrom && $0.causal })
        #expect(shapes.contains { $0.rows < AttentionKernels.packedFrom && $0.causal })
        #expect(shapes.contains { $0.grouped })
    }

    @Test(
        "larger shapes match the reference: a causal prompt and rows past several blocks",
        arguments: [1, 2] as [UInt64])
    func reference(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let cases = [
            OpParity.attentionCase(&rng, heads: 6, kvHeads: 6, rows: 70, keys: 93, headDim: 64, causalOffset: 23),
            OpParity.attentionCase(&rng, heads: 2, kvHeads: 1, rows: 50, keys: 131, headDim: 64, causalOffset: nil),
        ]
        for r in OpParity.check(CPUBackend(), cases: cases) {
            #expect(r.status == .passed, "\(r)")
        }
    }

    @Test("Whisper's encoder attention equals scores, softmax and the value product done as separate ops")
    func encoderShape() throws {
        var rng = SeededRandom(seed: 7)
        let (rows, heads, e) = (1500, 6, 64)
        let width = heads * e
        let qkv = rng.tensor([rows, 3 * width])
        let cpu = CPUBackend()
        let scale = 1 / Float(e).squareRoot()
        var fused = Tensor(zeros: [rows, width])
        try cpu.attention(
            qkv, MatrixView(batch: heads, rows: rows, cols: e, rowStride: 3 * width, batchStride: e), qkv,
            MatrixView(offset: width, batch: heads, rows: rows, cols: e, rowStride: 3 * width, batchStride: e), qkv,
            MatrixView(offset: 2 * width, batch: heads, rows: rows, cols: e, rowStride: 3 * width, batchStride: e),
            scale: scale, causalOffset: nil, into: &fused,
            MatrixView(batch: heads, rows: rows, cols: e, rowStride: width, batchStride: e))
        var products = Tensor(zeros: [rows, width])
        for h in 0..<heads {
            var scores = Tensor(zeros: [rows, rows])
            try cpu.matmul(
                qkv, MatrixView(offset: h * e, rows: rows, cols: e, rowStride: 3 * width), qkv,
                MatrixView(offset: width + h * e, rows: rows, cols: e, rowStride: 3 * width), transposeB: true,
                alpha: scale, beta: 0, into: &scores, MatrixView(rows: rows, cols: rows))
            try cpu.softmax(&scores, causalOffset: nil)
            try cpu.matmul(
                scores, MatrixView(rows: rows, cols: rows), qkv,
                MatrixView(offset: 2 * width + h * e, rows: rows, cols: e, rowStride: 3 * width), transposeB: false,
                alpha: 1, beta: 0, into: &products, MatrixView(offset: h * e, rows: rows, cols: e, rowStride: width))
        }
        let diff = OpParity.compare(fused, products)
        #expect(diff.nmse <= OpParity.Tolerance.products, "nmse \(diff.nmse), max |err| \(diff.maxAbs)")
    }

    /// One case of either kernel: q, k and v read from fused projection rows as the models lay them out
    /// (k and v in f16 when `half`, as a decoder's cross-attention cache), and the reference backend's output.
    struct KernelCase: Sendable, CustomTestStringConvertible {
        /// Runs the few-rows kernel, not the many-rows one.
        let rowwise: Bool
        let half: Bool
        let heads: Int
        let kvHeads: Int
        let rows: Int
        let keys: Int
        let e: Int
        let causalOffset: Int?
        let q: Tensor
        let kv: Tensor
        let reference: Tensor

        var testDescription: String {
            "\(rowwise ? "row-wise" : "blocked"), \(half ? "f16" : "f32") k/v, \(heads)/\(kvHeads) heads × \(rows) rows × "
                + "\(keys) keys × \(e), causal \(causalOffset.map(String.init) ?? "no")"
        }

        var views: (q: MatrixView, k: MatrixView, v: MatrixView, out: MatrixView) {
            Self.views(heads: heads, kvHeads: kvHeads, rows: rows, keys: keys, e: e)
        }

        static func views(heads: Int, kvHeads: Int, rows: Int, keys: Int, e: Int) -> (
            q: MatrixView, k: MatrixView, v: MatrixView, out: MatrixView
        ) {
            let (qWidth, kvWidth) = (heads * e, kvHeads * e)
            return (
                MatrixView(batch: heads, rows: rows, cols: e, rowStride: qWidth, batchStride: e),
                MatrixView(batch: kvHeads, rows: keys, cols: e, rowStride: 2 * kvWidth, batchStride: e),
                MatrixView(
                    offset: kvWidth, batch: kvHeads, rows: keys, cols: e, rowStride: 2 * kvWidth, batchStride: e),
                MatrixView(batch: heads, rows: rows, cols: e, rowStride: qWidth, batchStride: e)
            )
        }

        init(
            rowwise: Bool = false, half: Bool = false, heads: Int, kvHeads: Int, rows: Int, keys: Int, e: Int,
            causalOffset: Int?, seed: UInt64
        ) {
            (self.rowwise, self.half) = (rowwise, half)
            (self.heads, self.kvHeads, self.rows, self.keys, self.e, self.causalOffset) =
                (heads, kvHeads, rows, keys, e, causalOffset)
            var rng = SeededRandom(seed: seed)
            q = rng.tensor([rows, heads * e])
            kv = rng.tensor([keys, 2 * kvHeads * e], dtype: half ? .f16 : .f32)
            var out = Tensor(zeros: [rows, heads * e])
            let (qv, kView, vView, ov) = Self.views(heads: heads, kvHeads: kvHeads, rows: rows, keys: keys, e: e)
            try? ReferenceBackend().attention(
                q, qv, kv, kView, kv, vView, scale: 1 / Float(e).squareRoot(), causalOffset: causalOffset,
                into: &out, ov)
            reference = out
        }

        /// The kernel's output, the C one when `vectorised`.
        func run(vectorised: Bool) -> Tensor {
            let (qv, kView, vView, ov) = views
            let scale = 1 / Float(e).squareRoot()
            var out = Tensor(zeros: [rows, heads * e])
            q.withUnsafeFloats { qp in
                kv.withUnsafeBytes { kp in
                    out.withUnsafeMutableFloats { op in
                        if rowwise {
                            AttentionKernels.rowwise(
                                q: qp.baseAddress!, qv, k: kp.baseAddress!, kView, v: kp.baseAddress!, vView,
                                half: half, scale: scale, causalOffset: causalOffset, out: op.baseAddress!, ov,
                                threads: 2, vectorised: vectorised)
                        } else {
                            let kf = kp.baseAddress!.assumingMemoryBound(to: Float.self)
                            AttentionKernels.blocked(
                                q: qp.baseAddress!, qv, k: kf, kView, v: kf, vView, scale: scale,
                                causalOffset: causalOffset, out: op.baseAddress!, ov, threads: 2,
                                vectorised: vectorised)
                        }
                    }
                }
            }
            return out
        }
    }

    /// Many rows: Whisper's encoder; key counts off the panel widths (16 and 32); causal offsets that hide
    /// every key from some rows, or none; grouped heads; rows past several blocks of both kernels (16 and 12).
    /// Few rows: Whisper's decoder step (cross-attention over 1500 keys, self-attention), f32 and f16 keys
    /// and values, key counts off 16, features off 16, grouped heads, rows that see no key.
    static let cases: [KernelCase] = [
        KernelCase(heads: 6, kvHeads: 6, rows: 1500, keys: 1500, e: 64, causalOffset: nil, seed: 11),
        KernelCase(heads: 6, kvHeads: 6, rows: 70, keys: 93, e: 64, causalOffset: 23, seed: 12),
        KernelCase(heads: 2, kvHeads: 1, rows: 50, keys: 131, e: 64, causalOffset: nil, seed: 13),
        KernelCase(heads: 4, kvHeads: 2, rows: 45, keys: 77, e: 128, causalOffset: -5, seed: 14),
        KernelCase(heads: 3, kvHeads: 3, rows: 13, keys: 45, e: 32, causalOffset: 0, seed: 15),
        KernelCase(heads: 2, kvHeads: 2, rows: 9, keys: 33, e: 16, causalOffset: 40, seed: 16),
        KernelCase(heads: 2, kvHeads: 1, rows: 29, keys: 8, e: 48, causalOffset: nil, seed: 17),
        KernelCase(rowwise: true, heads: 6, kvHeads: 6, rows: 1, keys: 1500, e: 64, causalOffset: nil, seed: 21),
        KernelCase(
            rowwise: true, half: true, heads: 6, kvHeads: 6, rows: 1, keys: 1500, e: 64, causalOffset: nil, seed: 22),
        KernelCase(rowwise: true, heads: 6, kvHeads: 6, rows: 1, keys: 23, e: 64, causalOffset: 22, seed: 23),
        KernelCase(
            rowwise: true, half: true, heads: 9, kvHeads: 3, rows: 3, keys: 100, e: 64, causalOffset: 97, seed: 24),
        KernelCase(rowwise: true, heads: 2, kvHeads: 1, rows: 4, keys: 33, e: 20, causalOffset: nil, seed: 25),
        KernelCase(
            rowwise: true, half: true, heads: 3, kvHeads: 3, rows: 5, keys: 7, e: 16, causalOffset: -3, seed: 26),
    ]

    @Test("the portable kernels match the reference", arguments: cases)
    func portable(_ c: KernelCase) {
        let diff = OpParity.compare(c.run(vectorised: false), c.reference)
        #expect(diff.nmse <= OpParity.Tolerance.products, "nmse \(diff.nmse), max |err| \(diff.maxAbs)")
    }

    @Test(
        "the AVX-512 kernels match the reference and the portable ones",
        .enabled(if: AttentionKernels.vectorised, "this CPU has no AVX-512 (or HARK_CPU_KERNELS=avx2)"),
        arguments: cases)
    func vectorised(_ c: KernelCase) {
        let out = c.run(vectorised: true)
        let diff = OpParity.compare(out, c.reference)
        #expect(diff.nmse <= OpParity.Tolerance.products, "nmse \(diff.nmse), max |err| \(diff.maxAbs)")
        // And against the portable kernel: f32 sums of the same products, in another order.
        let portable = OpParity.compare(out, c.run(vectorised: false))
        #expect(portable.nmse <= OpParity.Tolerance.elementwise, "nmse \(portable.nmse)")
    }

    /// Claims every op but implements none: the protocol's defaults throw `.unsupported`.
    struct ClaimsEverything: Backend {
        let name = "claims-everything"
        func supports(_ op: Op) -> Bool { true }
    }

    @Test("a backend without attention leaves it to the CPU")
    func fallback() throws {
        var rng = SeededRandom(seed: 3)
        let q = rng.tensor([5, 2 * 16])
        let kv = rng.tensor([9, 2 * 2 * 16])
        let qv = MatrixView(batch: 2, rows: 5, cols: 16, rowStride: 32, batchStride: 16)
        let kView = MatrixView(batch: 2, rows: 9, cols: 16, rowStride: 64, batchStride: 16)
        let vView = MatrixView(offset: 32, batch: 2, rows: 9, cols: 16, rowStride: 64, batchStride: 16)
        var expected = Tensor(zeros: [5, 32])
        try CPUBackend().attention(q, qv, kv, kView, kv, vView, scale: 0.25, causalOffset: 3, into: &expected, qv)
        var out = Tensor(zeros: [5, 32])
        try ComputeEngine(backend: ClaimsEverything()).attention(
            q, qv, kv, kView, kv, vView, scale: 0.25, causalOffset: 3, into: &out, qv)
        #expect(out.floats() == expected.floats())
    }
}

@Suite("Half-precision stores (a KV cache in f16)")
struct HalfStoreTests {
    @Test("storeHalves rounds as Float16(x) does, from the offset on, the rest untouched")
    func storeHalves() {
        var rng = SeededRandom(seed: 3)
        let source = rng.tensor([37], scale: 70000)  // some beyond f16's range: ±infinity, as Float16(x)
        var cache = Tensor(zeros: [50], dtype: .f16)
        cache.storeHalves(of: source, count: 37, at: 5)
        let stored = cache.floats()
        let expected = source.floats().map { Float(Float16($0)) }
        #expect(Array(stored[5..<42]) == expected)
        #expect(stored[..<5].allSatisfy { $0 == 0 } && stored[42...].allSatisfy { $0 == 0 })
    }
}
