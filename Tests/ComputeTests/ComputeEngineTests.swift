import Synchronization
import Tensors
import Testing

@testable import Compute

/// The dispatcher: ops go to the bound backend when it takes them, to the CPU otherwise.
@Suite("ComputeEngine dispatch and CPU fallback")
struct ComputeEngineTests {
    @Test("supported ops run on the bound backend, the rest on the CPU")
    func placement() throws {
        let npu = LinearOnlyBackend()
        let engine = ComputeEngine(backend: npu, threads: 1)
        var rng = SeededRandom(seed: 9)
        let w = try engine.prepare(rng.tensor([8, 16], dtype: .f16), for: .linear)
        #expect(w.native(for: "linear-only") != nil)
        let x = rng.tensor([3, 16])
        let y = try engine.linear(x, w)
        #expect(npu.calls.load(ordering: .relaxed) == 1)
        #expect(engine.placement(of: .linear(m: 3, k: 16, n: 8, weight: .f16), weight: w) == "linear-only")
        #expect(engine.placement(of: .softmax(rows: 3, n: 8)) == "cpu")

        var s = y
        try engine.softmax(&s)
        #expect(npu.calls.load(ordering: .relaxed) == 1)
        // Both placements agree with the CPU alone.
        let cpuOnly = ComputeEngine(threads: 1)
        let wc = try cpuOnly.prepare(w.original, for: .linear)
        var expected = try cpuOnly.linear(x, wc)
        try cpuOnly.softmax(&expected)
        #expect(OpParity.compare(s, expected).nmse < 1e-12)
    }

    @Test("a weight the backend declines keeps its ops on the CPU")
    func declinedWeight() throws {
        let npu = LinearOnlyBackend(maxK: 8)
        let engine = ComputeEngine(backend: npu, threads: 1)
        var rng = SeededRandom(seed: 3)
        let w = try engine.prepare(rng.tensor([4, 16]), for: .linear)
        #expect(w.native == nil)
        _ = try engine.linear(rng.tensor([2, 16]), w)
        #expect(npu.calls.load(ordering: .relaxed) == 0)
    }

    @Test("a backend failing at run time is redone on the CPU")
    func runtimeFailure() throws {
        let npu = LinearOnlyBackend(failing: true)
        let engine = ComputeEngine(backend: npu, threads: 1)
        var rng = SeededRandom(seed: 4)
        let w = try engine.prepare(rng.tensor([5, 7]), for: .linear)
        let x = rng.tensor([2, 7])
        let y = try engine.linear(x, w)
        let ref = try ComputeEngine(threads: 1).linear(
            x, try ComputeEngine(threads: 1).prepare(w.original, for: .linear))
        #expect(npu.calls.load(ordering: .relaxed) == 1)
        #expect(OpParity.compare(y, ref).nmse == 0)
    }

    @Test("shape errors are typed errors, not crashes")
    func shapeErrors() throws {
        let engine = ComputeEngine(threads: 1)
        var rng = SeededRandom(seed: 5)
        let w = try engine.prepare(rng.tensor([4, 6]), for: .linear)
        #expect(throws: ComputeError.self) { _ = try engine.linear(rng.tensor([2, 5]), w) }
        var a = rng.tensor([3, 4])
        #expect(throws: ComputeError.self) { try engine.add(&a, rng.tensor([3])) }
        let cw = try engine.prepare(rng.tensor([2, 3, 3]), for: .conv1d(Conv1DParams()))
        #expect(throws: ComputeError.self) { _ = try engine.conv1d(rng.tensor([4, 10]), cw, params: Conv1DParams()) }
        #expect(throws: ComputeError.self) { try engine.layerNorm(&a, axis: 2, gamma: nil, beta: nil) }
        let table = try engine.prepare(rng.tensor([5, 2]), for: .embedding)
        var out = Tensor(zeros: [1, 2])
        #expect(throws: ComputeError.self) { try engine.embedding(table, ids: [5], into: &out) }
        var q = rng.tensor([2, 8])
        let k = Tensor(zeros: [2, 2])
        #expect(throws: ComputeError.self) {
            try engine.matmul(
                q, MatrixView(rows: 2, cols: 8), k, MatrixView(rows: 2, cols: 9), transposeB: true, into: &q,
                MatrixView(rows: 2, cols: 2))
        }
    }

    @Test("quantized weights are refused by the CPU with a clear message until their kernels exist")
    func quantizedRefused() {
        let engine = ComputeEngine(threads: 1)
        let q = Tensor(zeros: [4, 256], dtype: .q5_K)
        let error = #expect(throws: ComputeError.self) { _ = try engine.prepare(q, for: .linear) }
        #expect(error?.message == "the CPU backend has no kernels for q5_K weights yet")
    }

    @Test("the causal mask restarts with every matrix of a stack (one per head)")
    func causalMaskPerHead() throws {
        let engine = ComputeEngine(threads: 1)
        var scores = Tensor(zeros: [2, 3, 4])  // two heads, three queries after one cached key
        try engine.softmax(&scores, causalOffset: 1)
        let expected: [Float] = [0.5, 0.5, 0, 0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 0, 0.25, 0.25, 0.25, 0.25]
        #expect(OpParity.compare(scores, Tensor(shape: [2, 3, 4], floats: expected + expected)).maxAbs < 1e-6)
    }

    @Test("output lengths follow PyTorch's formulas")
    func outputLengths() {
        #expect(Conv1DParams(stride: 2, padding: 1).outputLength(input: 3000, kernel: 3) == 1500)
        #expect(Conv1DParams(dilation: 3, padding: 3).outputLength(input: 50, kernel: 3) == 50)
        #expect(ConvTranspose1DParams(stride: 8, padding: 4).outputLength(input: 86, kernel: 16) == 688)
        #expect(ConvTranspose1DParams(stride: 3, padding: 2, outputPadding: 1).outputLength(input: 17, kernel: 5) == 50)
    }
}

/// A pretend accelerator that runs only linear, with K up to `maxK`, counting its calls.
final class LinearOnlyBackend: Backend {
    let name = "linear-only"
    let maxK: Int
    let failing: Bool
    let calls = Atomic<Int>(0)

    init(maxK: Int = 4096, failing: Bool = false) {
        self.maxK = maxK
        self.failing = failing
    }

    func supports(_ op: Op) -> Bool {
        if case .linear(_, let k, _, _) = op { return k <= maxK }
        return false
    }

    func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        guard use == .linear, weight.shape[1] <= maxK else { return nil }
        return weight.toF32()
    }

    func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        calls.add(1, ordering: .relaxed)
        if failing { throw ComputeError(.backendFailure, "device lost") }
        let w = PreparedWeight(
            original: weight.original, use: .linear, cpu: weight.native(for: name)!, native: nil, nativeBackend: nil)
        try CPUBackend(threads: 1).linear(x, weight: w, bias: bias, into: &y)
    }
}
