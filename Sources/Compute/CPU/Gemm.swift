import CKernels
import COpenBLAS

/// Row-major single-precision products for the CPU backend: C = alpha · op(A) · op(B) + beta · C.
///
/// On CPUs with AVX-512 the product runs on Hark's own kernel (`hark_sgemm_avx512`, CKernels), split over the
/// backend's threads in whole register tiles; elsewhere it goes to OpenBLAS's `cblas_sgemm`, whose kernels the
/// machine may have pinned below the CPU's width. OpenBLAS also keeps single-row products (its sgemv path is as
/// fast) and narrow ones (n < 24: the kernel's 48-column tile would be mostly padding; Silero VAD's convolutions
/// over 4 frames ran 2-3× slower on it).
enum Gemm {
    /// Whether the AVX-512 kernel runs: probed once (HARK_CPU_KERNELS=avx2 turns it off).
    static let avx512 = hark_cpu_has_avx512() != 0

    /// Work below which one more thread costs more than it saves (about 10 µs of one core).
    static let flopsPerThread = 2_000_000

    /// Fewest columns of C worth the kernel: below half its tile width OpenBLAS was faster (measured on Zen 5).
    static let narrowest = Int(HARK_SGEMM_NR) / 2

    /// op(A) is m×k, op(B) is k×n, C is m×n; `lda`, `ldb`, `ldc` are row strides. beta == 0 never reads C.
    static func multiply(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        if avx512 && m > 1 && n >= narrowest {
            kernel(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
        } else {
            openBLAS(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// The AVX-512 kernel, C cut into one block per thread along its longer side, at multiples of the MR×NR
    /// register tile (so only C's own edges make partial tiles); each block packs its own operands. Call only
    /// when `avx512` is true.
    static func kernel(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
        lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        threads: Int
    ) {
        let tileRows = Int(HARK_SGEMM_MR)
        let tileCols = Int(HARK_SGEMM_NR)
        let splitRows = (m + tileRows - 1) / tileRows > (n + tileCols - 1) / tileCols
        let unit = splitRows ? tileRows : tileCols
        let units = ((splitRows ? m : n) + unit - 1) / unit
        let unitFlops = 2 * unit * k * (splitRows ? n : m)
        let (ta, tb) = (Int32(transposeA ? 1 : 0), Int32(transposeB ? 1 : 0))
        let (ap, bp, cp) = (SharedPointer(a), SharedPointer(b), SharedPointer(c))
        parallelFor(units, threads: threads, grain: max(1, flopsPerThread / max(unitFlops, 1))) { range in
            let lo = range.lowerBound * unit
            if splitRows {
                let rows = min(m, range.upperBound * unit) - lo
                hark_sgemm_avx512(
                    ta, tb, rows, n, k, alpha, ap.base + (transposeA ? lo : lo * lda), lda, bp.base, ldb, beta,
                    cp.base + lo * ldc, ldc)
            } else {
                let cols = min(n, range.upperBound * unit) - lo
                hark_sgemm_avx512(
                    ta, tb, m, cols, k, alpha, ap.base, lda, bp.base + (transposeB ? lo * ldb : lo), ldb, beta,
                    cp.base + lo, ldc)
            }
        }
    }

    /// OpenBLAS's sgemm, with OpenBLAS's own threads.
    static func openBLAS(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
        lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m),
            Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
