// RK3588's native matmul layouts for fp16 inputs and fp32 outputs (research/backends.md §1), written and
// read on the CPU. B is laid out once per weight at load; A and C on every call, so those loops move whole
// runs of 8 (A) and 4 (C) contiguous values.

/// Conversions between row-major matrices and the NPU's native fp16/fp32 layouts. K and N here are the
/// padded sizes (K a multiple of 32, N of 16); rows and columns past the real ones are zero.
enum NativeLayout {
    /// Rounds `x` up to a multiple of `m`.
    static func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }

    /// How a weight's elements are ordered in memory.
    enum Order {
        /// [N, K] row-major (a linear weight [out, in], a conv1d weight [out, in · kernel]).
        case nk
        /// [K, N] row-major (a transposed conv weight [in, out · kernel]).
        case kn
    }

    /// B (K × N, stored as `order`) → native (N/16, K/32, 16, 32) fp16: each 16×32 block holds, for 16
    /// columns n, 32 consecutive k. `paddedK`/`paddedN` give the native sizes.
    static func packB(
        _ w: UnsafePointer<Float>, order: Order, k: Int, n: Int, paddedK: Int, paddedN: Int,
        into out: UnsafeMutablePointer<Float16>
    ) {
        out.initialize(repeating: 0, count: paddedK * paddedN)
        let kBlocks = paddedK / 32
        for col in 0..<n {
            let block = out + (col / 16) * kBlocks * 512 + (col % 16) * 32
            for row in 0..<k {
                let value = order == .nk ? w[col * k + row] : w[row * n + col]
                block[(row / 32) * 512 + row % 32] = Float16(value)
            }
        }
    }

    /// The inverse of `packB` for `.nk` order: native → [N, K] f32 (for tests and the CPU side of checks).
    static func unpackB(
        _ b: UnsafePointer<Float16>, k: Int, n: Int, paddedK: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let kBlocks = paddedK / 32
        for col in 0..<n {
            let block = b + (col / 16) * kBlocks * 512 + (col % 16) * 32
            for row in 0..<k { out[col * k + row] = Float(block[(row / 32) * 512 + row % 32]) }
        }
    }

    /// Rows of x [rows, k] (row-major, `rowStride` apart) → native A (K/8, M, 8) fp16 with M = `paddedM`;
    /// rows past `rows` and columns past `k` are zero.
    static func packA(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, rowStride: Int, paddedM: Int, paddedK: Int,
        into out: UnsafeMutablePointer<Float16>
    ) {
        let full = k / 8
        for m in 0..<paddedM {
            let dst = out + m * 8
            guard m < rows else {
                for kb in 0..<(paddedK / 8) { (dst + kb * paddedM * 8).initialize(repeating: 0, count: 8) }
                continue
            }
            let src = x + m * rowStride
            for kb in 0..<full {
                let v = UnsafeRawPointer(src + kb * 8).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + kb * paddedM * 8).storeBytes(
                    of: SIMD8<Float16>(v), as: SIMD8<Float16>.self)
            }
            for kb in full..<(paddedK / 8) {
                let d = dst + kb * paddedM * 8
                for i in 0..<8 {
                    let col = kb * 8 + i
                    d[i] = col < k ? Float16(src[col]) : 0
                }
            }
        }
    }

    /// Native C (N/4, M, 4) f32 with M = `paddedM` → rows of y: y[m · rowStride + n] for m < rows, n < n,
    /// plus bias[n] when given.
    static func unpackC(
        _ c: UnsafePointer<Float>, rows: Int, n: Int, paddedM: Int, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, rowStride: Int
    ) {
        let full = n / 4
        for nb in 0..<((n + 3) / 4) {
            let block = c + nb * paddedM * 4
            let b = bias.map { nb < full ? UnsafeRawPointer($0 + nb * 4).loadUnaligned(as: SIMD4<Float>.self) : .zero }
            for m in 0..<rows {
                let dst = y + m * rowStride + nb * 4
                if nb < full {
                    var v = UnsafeRawPointer(block + m * 4).loadUnaligned(as: SIMD4<Float>.self)
                    if let b { v += b }
                    UnsafeMutableRawPointer(dst).storeBytes(of: v, as: SIMD4<Float>.self)
                } else {
                    for i in 0..<(n - nb * 4) { dst[i] = block[m * 4 + i] + (bias?[nb * 4 + i] ?? 0) }
                }
            }
        }
    }
}
