import Tensors
import Testing

@testable import Compute

/// The engine's residual conv1d, conv(lrelu(x)) + bias + residual in one op, against the three ops one by one: on the
/// CPU's time-tiled path (long inputs, its packed weights), its other paths (short inputs, few outputs, grouped),
/// with 2 threads and 1, and through a bound backend that takes convolutions (decomposed there).
@Suite("Residual conv1d")
struct FusedConvTests {
    static let shapes: [(cin: Int, cout: Int, kernel: Int, length: Int, params: Conv1DParams)] = [
        (32, 32, 7, 2000, Conv1DParams(stride: 1, dilation: 3, padding: 9)),
        (128, 128, 3, 600, Conv1DParams(stride: 1, padding: 1)),
        (32, 32, 5, 40, Conv1DParams(stride: 1, dilation: 2, padding: 4)),
        (16, 3, 7, 300, Conv1DParams(stride: 1, padding: 3)),
        (16, 16, 3, 300, Conv1DParams(stride: 1, padding: 1, groups: 4)),
    ]

    @Test("equals lrelu, conv1d and add one by one", arguments: [1, 2])
    func matchesOpByOp(threads: Int) throws {
        let engine = ComputeEngine(threads: threads)
        var rng = SeededRandom(seed: 41)
        for s in Self.shapes {
            let w = try engine.prepare(
                rng.tensor([s.cout, s.cin / s.params.groups, s.kernel], scale: 0.2), for: .conv1d(s.params))
            let bias = rng.tensor([s.cout])
            let x = rng.tensor([s.cin, s.length])
            let tout = s.params.outputLength(input: s.length, kernel: s.kernel)
            let residual = rng.tensor([s.cout, tout])
            var expected = try engine.conv1d(
                try engine.activation(.leakyReLU(slope: 0.1), x), w, bias: bias, params: s.params)
            let plain = try engine.conv1d(x, w, bias: bias, params: s.params, inputSlope: 0.1)
            #expect(OpParity.compare(plain, expected).nmse < 1e-12, "\(s) without residual")
            try engine.add(&expected, residual)
            let fused = try engine.conv1d(x, w, bias: bias, params: s.params, inputSlope: 0.1, residual: residual)
            #expect(OpParity.compare(fused, expected).nmse < 1e-12, "\(s)")
        }
    }

    @Test("a bound backend that takes the conv gets the ops one by one, with the same result")
    func boundBackendDecomposes() throws {
        let reference = ReferenceBackend()
        let engine = ComputeEngine(backend: reference, threads: 2)
        let cpu = ComputeEngine(threads: 2)
        var rng = SeededRandom(seed: 5)
        let p = Conv1DParams(stride: 1, dilation: 3, padding: 3)
        let weight = rng.tensor([8, 8, 3], scale: 0.2)
        let (x, residual) = (rng.tensor([8, 200]), rng.tensor([8, 200]))
        let onBound = try engine.conv1d(
            x, try engine.prepare(weight, for: .conv1d(p)), params: p, inputSlope: 0.1, residual: residual)
        let onCPU = try cpu.conv1d(
            x, try cpu.prepare(weight, for: .conv1d(p)), params: p, inputSlope: 0.1, residual: residual)
        #expect(OpParity.compare(onBound, onCPU).nmse < 1e-10)
    }
}
