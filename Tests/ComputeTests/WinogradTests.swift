import Tensors
import Testing

@testable import Compute

/// The CPU's Winograd F(4, r) convolutions (`Conv1DKernel.runWinograd`) against a double-precision direct
/// convolution: every kernel and dilation the models use, lengths that end inside a group of sixteen blocks and
/// inputs shorter than one, with and without the input's leaky ReLU, bias and residual, on one thread and two.
///
/// Bound: |y − ref| ≤ 1e-5 · (Σ |w||x| + |bias| + |residual|) per element plus 1e-6. The transforms' constants reach
/// 17, so rounding errs by a few 1e-6 of that sum; a misplaced tile, a lost edge or a wrong phase is off by far
/// more.
@Suite("Winograd conv1d against a direct convolution")
struct WinogradTests {
    struct Shape: CustomStringConvertible, Sendable {
        let cin: Int
        let cout: Int
        let kernel: Int
        let dilation: Int
        let length: Int
        let leaky: Bool
        let bias: Bool
        let residual: Bool

        var padding: Int { dilation * (kernel - 1) / 2 }
        var description: String {
            "\(cin)→\(cout) k\(kernel) d\(dilation) length \(length) leaky \(leaky) bias \(bias) residual \(residual)"
        }
    }

    static let shapes: [Shape] = {
        var list: [Shape] = []
        for (kernel, dilations) in [(3, [1, 2, 3]), (5, [1, 2, 6]), (7, [1, 3, 12])] {
            for d in dilations {
                for (i, length) in [5, 37, 64 * d + 3, 400 * d + 11].enumerated() {
                    list.append(
                        Shape(
                            cin: 16, cout: 24, kernel: kernel, dilation: d, length: length, leaky: i % 2 == 0,
                            bias: i != 1, residual: d % 2 == 0))
                }
            }
        }
        list.append(
            Shape(cin: 64, cout: 48, kernel: 5, dilation: 1, length: 1000, leaky: true, bias: true, residual: true))
        list.append(
            Shape(cin: 32, cout: 32, kernel: 7, dilation: 3, length: 2049, leaky: false, bias: false, residual: false))
        return list
    }()

    @Test(
        "matches a direct convolution", .enabled(if: Gemm.avx512, "this CPU has no AVX-512 (or HARK_CPU_KERNELS=avx2)"),
        arguments: [1, 2])
    func matchesDirect(threads: Int) throws {
        var rng = SeededRandom(seed: 17)
        for s in Self.shapes {
            let weight = rng.tensor([s.cout, s.cin, s.kernel], scale: 0.3)
            let x = rng.tensor([s.cin, s.length])
            let bias = s.bias ? rng.tensor([s.cout]) : Tensor(zeros: [s.cout])
            let residual = s.residual ? rng.tensor([s.cout, s.length]) : Tensor(zeros: [s.cout, s.length])
            let u = try #require(Conv1DKernel.winogradTransform(of: weight))
            let p = Conv1DParams(stride: 1, dilation: s.dilation, padding: s.padding)
            var y = Tensor(zeros: [s.cout, s.length])
            x.withUnsafeFloats { xs in
                u.withUnsafeFloats { us in
                    y.withUnsafeMutableFloats { ys in
                        residual.withUnsafeFloats { rs in
                            Conv1DKernel.runWinograd(
                                x: xs.baseAddress!, cin: s.cin, length: s.length, u: us.baseAddress!, cout: s.cout,
                                kernel: s.kernel, bias: s.bias ? bias : nil, params: p, inputSlope: s.leaky ? 0.1 : nil,
                                residual: s.residual ? rs.baseAddress : nil, y: ys.baseAddress!, tout: s.length,
                                threads: threads)
                        }
                    }
                }
            }
            let (w, xv, b, yv, r) = (weight.floats(), x.floats(), bias.floats(), y.floats(), residual.floats())
            var worst = 0.0
            for co in 0..<s.cout {
                for t in 0..<s.length {
                    var sum = Double(b[co]) + Double(r[co * s.length + t])
                    var magnitude = abs(Double(b[co])) + abs(Double(r[co * s.length + t]))
                    for ci in 0..<s.cin {
                        for j in 0..<s.kernel {
                            let at = t - s.padding + j * s.dilation
                            guard at >= 0, at < s.length else { continue }
                            var v = Double(xv[ci * s.length + at])
                            if s.leaky && v < 0 { v *= Double(Float(0.1)) }
                            let product = Double(w[(co * s.cin + ci) * s.kernel + j]) * v
                            sum += product
                            magnitude += abs(product)
                        }
                    }
                    worst = max(worst, abs(Double(yv[co * s.length + t]) - sum) / (1e-5 * magnitude + 1e-6))
                }
            }
            #expect(worst <= 1, "\(s): error \(worst) of the bound")
        }
    }
}
