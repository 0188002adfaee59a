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

// MARK: - int8 operands, int32 results

extension NativeLayout {
    /// Symmetric 8-bit quantization: the scale that maps the largest magnitude to 127 (1 for all zeros, so a
    /// zero row or column stays zero), and values rounded to nearest, clamped to ±127 (never −128, so the
    /// range is symmetric and negation is exact).
    static func int8Scale(maxMagnitude: Float) -> Float { maxMagnitude > 0 ? maxMagnitude / 127 : 1 }

    @inline(__always)
    static func quantize(_ value: Float, inverseScale: Float) -> Int8 {
        Int8(max(-127, min(127, (value * inverseScale).rounded(.toNearestOrEven))))
    }

    /// B (K × N, given as [N, K] int8 rows) → native (N/32, K/32, 32, 32) int8: each 32×32 block holds, for
    /// 32 columns n, 32 consecutive k. Padding is zero.
    static func packBInt8(
        _ w: UnsafePointer<Int8>, k: Int, n: Int, paddedK: Int, paddedN: Int, into out: UnsafeMutablePointer<Int8>
    ) {
        out.initialize(repeating: 0, count: paddedK * paddedN)
        let kBlocks = paddedK / 32
        for col in 0..<n {
            let block = out + (col / 32) * kBlocks * 1024 + (col % 32) * 32
            let src = w + col * k
            for kb in 0..<((k + 31) / 32) {
                (block + kb * 1024).update(from: src + kb * 32, count: min(32, k - kb * 32))
            }
        }
    }

    /// The inverse of `packBInt8`: native → [N, K] int8.
    static func unpackBInt8(
        _ b: UnsafePointer<Int8>, k: Int, n: Int, paddedK: Int, into out: UnsafeMutablePointer<Int8>
    ) {
        let kBlocks = paddedK / 32
        for col in 0..<n {
            let block = b + (col / 32) * kBlocks * 1024 + (col % 32) * 32
            for row in 0..<k { out[col * k + row] = block[(row / 32) * 1024 + row % 32] }
        }
    }

    /// Rows of q [rows, k] int8 (`rowStride` apart) → native A (K/16, M, 16) with M = `paddedM`; rows past
    /// `rows` and columns past `k` are zero.
    static func packAInt8(
        _ q: UnsafePointer<Int8>, rows: Int, k: Int, rowStride: Int, paddedM: Int, paddedK: Int,
        into out: UnsafeMutablePointer<Int8>
    ) {
        for m in 0..<paddedM {
            let dst = out + m * 16
            for kb in 0..<(paddedK / 16) {
                let d = dst + kb * paddedM * 16
                let start = kb * 16
                let valid = m < rows ? max(0, min(16, k - start)) : 0
                if valid > 0 { d.update(from: q + m * rowStride + start, count: valid) }
                if valid < 16 { (d + valid).initialize(repeating: 0, count: 16 - valid) }
            }
        }
    }

    /// The inverse of `packAInt8`: native (K/16, M, 16) → rows [rows, k] int8.
    static func unpackAInt8(
        _ a: UnsafePointer<Int8>, rows: Int, k: Int, paddedM: Int, into out: UnsafeMutablePointer<Int8>
    ) {
        for m in 0..<rows {
            for col in 0..<k { out[m * k + col] = a[(col / 16) * paddedM * 16 + m * 16 + col % 16] }
        }
    }

    /// Rows of x [rows, k] f32 → native int8 A, each row quantized with its own scale (written to
    /// `scales[m]`): the NPU sums exact integer products, and row m of C is scaled back by `scales[m]`
    /// times the weight's column scale, so a per-row scale costs nothing on the device.
    static func quantizeA(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, rowStride: Int, paddedM: Int, paddedK: Int,
        scales: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Int8>
    ) {
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: max(1, rows * k))
        defer { q.deallocate() }
        for m in 0..<rows {
            let src = x + m * rowStride
            var largest: Float = 0
            for i in 0..<k { largest = max(largest, abs(src[i])) }
            let scale = int8Scale(maxMagnitude: largest)
            scales[m] = scale
            let inverse = 1 / scale
            for i in 0..<k { q[m * k + i] = quantize(src[i], inverseScale: inverse) }
        }
        packAInt8(q, rows: rows, k: k, rowStride: k, paddedM: paddedM, paddedK: paddedK, into: out)
    }

    /// Native C (N/4, M, 4) int32 → the same layout in f32, c[m, n] · rowScales[m] · columnScales[n], so the
    /// fp16 path's readers serve the int8 path unchanged. `n` is the padded width (a multiple of 4).
    static func dequantizeC(
        _ c: UnsafePointer<Int32>, n: Int, paddedM: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        for nb in 0..<(n / 4) {
            let column = UnsafeRawPointer(columnScales + nb * 4).loadUnaligned(as: SIMD4<Float>.self)
            for m in 0..<paddedM {
                let i = (nb * paddedM + m) * 4
                let v = SIMD4<Float>(UnsafeRawPointer(c + i).loadUnaligned(as: SIMD4<Int32>.self))
                UnsafeMutableRawPointer(out + i).storeBytes(of: v * column * rowScales[m], as: SIMD4<Float>.self)
            }
        }
    }

    /// Native C (N/4, M, 4) int32 → rows [rows, n] int32 (the exact results, for checks).
    static func unpackCInt32(
        _ c: UnsafePointer<Int32>, rows: Int, n: Int, paddedM: Int, into out: UnsafeMutablePointer<Int32>
    ) {
        for m in 0..<rows {
            for col in 0..<n { out[m * n + col] = c[(col / 4) * paddedM * 4 + m * 4 + col % 4] }
        }
    }
}
