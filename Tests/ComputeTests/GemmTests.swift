import Tensors
import Testing

@testable import Compute

/// The CPU backend's products (`Gemm`): Hark's AVX-512 kernel and OpenBLAS, each against a double-precision
/// reference on awkward shapes (every remainder of the 8×48 register tile and of the 384-deep slices), every
/// transpose combination, alpha/beta and strided rows.
///
/// Bound: |C − ref| ≤ 1e-5 · (|alpha| · Σₖ |a||b| + |beta · C₀|) per element. Float accumulation over k terms
/// errs by about √k · 2⁻²⁴ of that sum for random signs (under 3e-6 at k = 5504), so the bound holds with room
/// while a wrong element, a missed slice or a stray write is off by far more.
@Suite("Gemm: the AVX-512 kernel and OpenBLAS against a double-precision reference")
struct GemmTests {
    /// One product: op(A) is m×k, op(B) is k×n, every row padded by `pad` floats (C's padding must stay as is).
    struct Problem: CustomStringConvertible, Sendable {
        let transposeA: Bool
        let transposeB: Bool
        let m: Int
        let n: Int
        let k: Int
        var alpha: Float = 1
        var beta: Float = 0
        var pad = 0

        var lda: Int { (transposeA ? m : k) + pad }
        var ldb: Int { (transposeB ? k : n) + pad }
        var ldc: Int { n + pad }
        var description: String {
            "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)×\(n)×\(k) α \(alpha) β \(beta) pad \(pad)"
        }
    }

    /// Random shapes in 1…67 (all four transpose combinations, alpha/beta, padding) and the product shapes the
    /// models use, each with the transpose combination its call site uses.
    static let problems: [Problem] = {
        var rng = SeededRandom(seed: 11)
        var list: [Problem] = []
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for i in 0..<60 {
                let dims = (0..<3).map { _ in Int.random(in: 1...67, using: &rng) }
                list.append(
                    Problem(
                        transposeA: ta, transposeB: tb, m: dims[0], n: dims[1], k: dims[2], alpha: i % 3 == 0 ? 0.7 : 1,
                        beta: [0, 1, 0.5][i % 3], pad: i % 4 == 0 ? 3 : 0))
            }
            // Every tile remainder at once, and a depth past one 384-deep slice.
            list.append(Problem(transposeA: ta, transposeB: tb, m: 67, n: 67, k: 67, beta: 1, pad: 1))
            list.append(Problem(transposeA: ta, transposeB: tb, m: 9, n: 97, k: 800, alpha: 0.5, beta: 0.5))
            list.append(Problem(transposeA: ta, transposeB: tb, m: 130, n: 50, k: 390, pad: 2))
        }
        // Whisper's encoder fc2 (linear: x · Wᵀ); a HiFi-GAN im2col product (conv1d: W · columns, beta 1) with
        // strided rows; a conv-transpose product (Wᵀ · x); a rows-of-C count past the packed-B threshold.
        list.append(Problem(transposeA: false, transposeB: true, m: 1500, n: 384, k: 1536, beta: 1))
        list.append(Problem(transposeA: false, transposeB: false, m: 32, n: 448, k: 5504, beta: 1, pad: 5))
        list.append(Problem(transposeA: true, transposeB: false, m: 1024, n: 90, k: 128))
        list.append(Problem(transposeA: false, transposeB: false, m: 200, n: 1100, k: 400, alpha: 2, beta: 0.25))
        return list
    }()

    /// Operands and the reference: C₀ random (NaN when beta is 0, which must never be read), padding -7.
    struct Data {
        var a: [Float]
        var b: [Float]
        var c: [Float]
        let expected: [Double]
        let bound: [Double]

        init(_ p: Problem, seed: UInt64) {
            var rng = SeededRandom(seed: seed)
            a = (0..<((p.transposeA ? p.k : p.m) * p.lda)).map { _ in Float.random(in: -1...1, using: &rng) }
            b = (0..<((p.transposeB ? p.n : p.k) * p.ldb)).map { _ in Float.random(in: -1...1, using: &rng) }
            c = (0..<(p.m * p.ldc)).map { i in
                i % p.ldc >= p.n ? -7 : p.beta == 0 ? .nan : Float.random(in: -1...1, using: &rng)
            }
            // op(A) rows and op(B) columns, contiguous, in double.
            let (a, b, c) = (a, b, c)
            let rows = (0..<p.m).map { i in
                (0..<p.k).map { q in Double(p.transposeA ? a[q * p.lda + i] : a[i * p.lda + q]) }
            }
            let cols = (0..<p.n).map { j in
                (0..<p.k).map { q in Double(p.transposeB ? b[j * p.ldb + q] : b[q * p.ldb + j]) }
            }
            var expected = [Double](repeating: 0, count: p.m * p.n)
            var bound = [Double](repeating: 0, count: p.m * p.n)
            for i in 0..<p.m {
                for j in 0..<p.n {
                    var sum = 0.0
                    var magnitude = 0.0
                    for q in 0..<p.k {
                        let t = rows[i][q] * cols[j][q]
                        sum += t
                        magnitude += abs(t)
                    }
                    let c0 = p.beta == 0 ? 0 : Double(p.beta) * Double(c[i * p.ldc + j])
                    expected[i * p.n + j] = Double(p.alpha) * sum + c0
                    bound[i * p.n + j] = 1e-5 * (Double(abs(p.alpha)) * magnitude + abs(c0))
                }
            }
            self.expected = expected
            self.bound = bound
        }

        /// Elements off the reference by more than the bound, plus padding elements that changed.
        func failures(_ p: Problem) -> Int {
            var bad = 0
            for i in 0..<p.m {
                for j in 0..<p.ldc {
                    let got = c[i * p.ldc + j]
                    if j >= p.n {
                        if got != -7 { bad += 1 }
                    } else if !(abs(Double(got) - expected[i * p.n + j]) <= bound[i * p.n + j]) {
                        bad += 1
                    }
                }
            }
            return bad
        }
    }

    typealias Path = (Problem, inout Data) -> Void

    func check(_ path: Path) {
        for (index, p) in Self.problems.enumerated() {
            var data = Data(p, seed: UInt64(index) + 100)
            path(p, &data)
            #expect(data.failures(p) == 0, "\(p)")
        }
    }

    @Test(
        "the AVX-512 kernel on 1, 2 and 3 threads (each thread one block of C)",
        .enabled(if: Gemm.avx512, "this CPU has no AVX-512 (or HARK_CPU_KERNELS=avx2): only OpenBLAS runs here"))
    func avx512Kernel() {
        for threads in 1...3 {
            check { p, d in
                Gemm.kernel(
                    transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k, alpha: p.alpha,
                    a: d.a, lda: p.lda, b: d.b, ldb: p.ldb, beta: p.beta, c: &d.c, ldc: p.ldc, threads: threads)
            }
        }
    }

    @Test("OpenBLAS's sgemm (the path without AVX-512)")
    func openBLAS() {
        check { p, d in
            Gemm.openBLAS(
                transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k, alpha: p.alpha, a: d.a,
                lda: p.lda, b: d.b, ldb: p.ldb, beta: p.beta, c: &d.c, ldc: p.ldc)
        }
    }

    @Test("conv1d over long inputs (each thread on time tiles of its own with AVX-512) matches the reference")
    func longConvolutions() {
        var rng = SeededRandom(seed: 5)
        let shapes: [(Int, Int, Int, Int, Conv1DParams)] = [
            (32, 32, 7, 1000, Conv1DParams(dilation: 3, padding: 9)),
            (64, 48, 3, 701, Conv1DParams(stride: 2, padding: 1)),
            (24, 12, 3, 500, Conv1DParams(padding: 1, groups: 3)),
            (16, 20, 5, 900, Conv1DParams(stride: 3, dilation: 2, padLeft: 4, padRight: 1, groups: 1)),
            (192, 256, 7, 86, Conv1DParams(padding: 3)),
        ]
        let cases = shapes.map { cin, cout, k, length, p in
            OpParity.conv1dCase(&rng, cin: cin, cout: cout, kernel: k, length: length, params: p, dtype: .f32)
        }
        for r in OpParity.check(CPUBackend(), cases: cases) {
            #expect(r.status == .passed, "\(r)")
        }
    }

    @Test("Gemm.multiply, whichever path this CPU takes, and single-row products")
    func dispatch() {
        check { p, d in
            Gemm.multiply(
                transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k, alpha: p.alpha, a: d.a,
                lda: p.lda, b: d.b, ldb: p.ldb, beta: p.beta, c: &d.c, ldc: p.ldc, threads: 2)
        }
    }
}
