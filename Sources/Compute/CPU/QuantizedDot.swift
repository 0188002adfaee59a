import CQuantKernels
import Foundation
import Tensors

/// Decoding products y = x · Wᵀ (+ bias) for q4_0 / q4_1 / q8_0 weights through the C kernels of
/// `CQuantKernels`, as ggml's CPU backend computes them: x is quantized once per call to 32-element int8
/// blocks, and each weight block is dotted with its x block in integers (AVX2's byte multiply-add, which
/// Swift's SIMD types cannot express), scaled once per block. W streams from memory once; output rows
/// split over the cores.
///
/// Quantizing x rounds it to 8 bits per block, so results differ from the dequantized-weight f32 product
/// by about 1e-5 in NMSE (ggml's test-backend-ops allows 5e-4 for these products:
/// `OpParity.Tolerance.quantizedActivations`). `QuantizedMatrix`'s float kernels stay for CPUs without the
/// vector path and for exact results: `HARK_QUANT_KERNELS=swift` selects them.
enum QuantizedDot {
    /// Whether linear products with few rows of x take this path: the CPU has the kernels' vector path
    /// (AVX2 + FMA + F16C on x86-64; elsewhere only scalar C, slower than the Swift float kernels), and
    /// `HARK_QUANT_KERNELS` does not ask for the Swift kernels.
    static let enabled: Bool =
        hark_quant_vector_isa() != 0 && ProcessInfo.processInfo.environment["HARK_QUANT_KERNELS"] != "swift"

    /// Whether `dtype` has a kernel here.
    static func supports(_ dtype: DType) -> Bool {
        dtype == .q4_0 || dtype == .q4_1 || dtype == .q8_0
    }

    /// y[i, j] = x[i] · W[j] (+ bias[j]) for the m rows of x, W [n, k] in `dtype` blocks (k a multiple of 32).
    /// `scalar` runs the portable C kernels whatever the CPU (tests compare the vector path with them).
    static func matrixVector(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int, scalar: Bool = false
    ) {
        precondition(supports(dtype) && k % 32 == 0, "no kernel for \(dtype) rows of \(k)")
        let blocks = k / 32
        let kernel = rowKernel(dtype, scalar: scalar)
        let b = bias?.toF32()
        // x quantized, row after row: m · blocks (d, s) pairs, then m · k quants. A few KB: on the stack.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: m * blocks * 2 + m * k / 4) { buffer in
            let ds = buffer.baseAddress!
            let qs = UnsafeMutableRawPointer(ds + m * blocks * 2).assumingMemoryBound(to: Int8.self)
            for i in 0..<m {
                hark_quantize_q8(x + i * k, k, dtype == .q8_0 ? 0 : 1, ds + i * blocks * 2, qs + i * k)
            }
            let dss = SharedPointer(ds)
            let qss = SharedPointer(qs)
            let ys = SharedPointer(y)
            let ws = SharedPointer(w.assumingMemoryBound(to: UInt8.self))
            let bs = b.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
            parallelFor(n, threads: threads, grain: 64) { range in
                // Row by row of x over the same rows of W: the second pass reads them from cache.
                for i in 0..<m {
                    let yi = ys.base + i * n
                    kernel(
                        UnsafeRawPointer(ws.base), dss.base + i * blocks * 2, qss.base + i * k, blocks,
                        range.lowerBound,
                        range.upperBound, yi)
                    if let bs {
                        for j in range { yi[j] += bs.base[j] }
                    }
                }
            }
            withExtendedLifetime(b) {}
        }
    }

    /// The C row kernel for `dtype`.
    private static func rowKernel(
        _ dtype: DType, scalar: Bool
    )
        -> @convention(c) (
            UnsafeRawPointer?, UnsafePointer<Float>?, UnsafePointer<Int8>?, Int, Int, Int, UnsafeMutablePointer<Float>?
        ) -> Void
    {
        switch (dtype, scalar) {
        case (.q4_0, false): hark_q4_0_rows
        case (.q4_0, true): hark_q4_0_rows_scalar
        case (.q4_1, false): hark_q4_1_rows
        case (.q4_1, true): hark_q4_1_rows_scalar
        case (_, false): hark_q8_0_rows
        case (_, true): hark_q8_0_rows_scalar
        }
    }
}
