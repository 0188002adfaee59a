import Tensors
import Testing

@testable import Compute

/// The CPU backend against the reference, op by op, on the standard cases (several seeds, so shapes
/// and values differ between runs of the suite but each run is reproducible).
@Suite("Op parity: CPU backend vs reference")
struct OpParityTests {
    @Test("every standard case passes on the CPU backend", arguments: [1, 2, 3] as [UInt64])
    func cpuMatchesReference(seed: UInt64) {
        let results = OpParity.check(CPUBackend(), cases: OpParity.standardCases(seed: seed))
        for r in results where r.status != .passed {
            Issue.record("\(r)")
        }
        #expect(results.allSatisfy { $0.status == .passed })
    }

    @Test("the cases cover every op the models need")
    func coverage() {
        let names = Set(OpParity.standardCases().map(\.op.name))
        let required = [
            "linear", "matmul", "conv1d", "conv_transpose1d", "layer_norm", "rms_norm", "softmax", "gelu",
            "gelu_tanh", "silu", "relu", "leaky_relu(0.1)", "tanh", "sigmoid", "add", "mul", "embedding", "rope",
            "transpose",
        ]
        for op in required { #expect(names.contains(op), "no parity case for \(op)") }
        let weightTypes = Set(
            OpParity.standardCases().compactMap { c -> DType? in
                if case .linear(_, _, _, let w) = c.op { return w } else { return nil }
            })
        #expect(weightTypes == [.f32, .f16, .bf16, .q4_0, .q4_1, .q8_0, .q4_K, .q6_K])
    }

    @Test("a backend that is slightly wrong fails the harness")
    func harnessCatchesErrors() {
        let results = OpParity.check(SkewedBackend(), cases: OpParity.standardCases())
        let linear = results.filter { $0.op.name == "linear" }
        #expect(!linear.isEmpty && linear.allSatisfy { $0.status == .failed })
        // Ops the skewed backend does not claim are skipped, not failed.
        #expect(results.filter { $0.op.name == "softmax" }.allSatisfy { $0.status == .skipped })
    }

    @Test("a backend computing in f16 passes only under the reduced-precision tolerance")
    func reducedPrecision() {
        let cases = OpParity.standardCases().filter { $0.op.name == "linear" }
        let strict = OpParity.check(HalfPrecisionBackend(), cases: cases)
        let loose = OpParity.check(HalfPrecisionBackend(), cases: cases, tolerance: OpParity.Tolerance.reducedPrecision)
        #expect(strict.contains { $0.status == .failed })
        #expect(loose.allSatisfy { $0.status == .passed })
    }

    @Test("NMSE is zero for equal tensors and infinite for NaN")
    func nmse() {
        let a = Tensor(shape: [3], floats: [1, 2, 3])
        #expect(OpParity.compare(a, a).nmse == 0)
        let b = Tensor(shape: [3], floats: [1, .nan, 3])
        #expect(OpParity.compare(b, a).nmse == .infinity)
        let c = Tensor(shape: [3], floats: [1, 2, 4])
        #expect(abs(OpParity.compare(c, a).nmse - 1.0 / 14.0) < 1e-12)
    }
}

/// Runs linear on the CPU and then adds a small error: the harness must notice.
struct SkewedBackend: Backend {
    let name = "skewed"
    func supports(_ op: Op) -> Bool { op.name == "linear" }
    func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        try CPUBackend(threads: 1).prepare(weight, for: use)
    }
    func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        try CPUBackend(threads: 1).linear(x, weight: weight, bias: bias, into: &y)
        y.withUnsafeMutableFloats { p in for i in p.indices { p[i] += 1e-3 } }
    }
}

/// Rounds activations and weights to f16 before an f32 product, as NPUs do.
struct HalfPrecisionBackend: Backend {
    let name = "half"
    func supports(_ op: Op) -> Bool { op.name == "linear" }
    func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        let values = weight.floats()
        let rounded = values.map { Float(Float16($0)) }
        return Tensor(shape: weight.shape, floats: rounded)
    }
    func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        let xh = Tensor(shape: x.shape, floats: x.floats().map { Float(Float16($0)) })
        let w = PreparedWeight(
            original: weight.original, use: .linear, cpu: weight.native!, native: nil, nativeBackend: nil)
        try CPUBackend(threads: 1).linear(xh, weight: w, bias: bias, into: &y)
    }
}
