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
