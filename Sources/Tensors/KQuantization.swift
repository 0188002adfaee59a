/// Reference quantizers and dequantizers for ggml's 256-element "k-quant" super-blocks q4_K and q6_K.
///
/// Block layouts (ggml's `ggml-common.h`), little-endian, blocks packed without padding:
/// - q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of eight packed 6-bit (scale, min) pairs, 128 bytes qs.
///   The 256 elements form four chunks of 64; chunk c reads qs[32c ..< 32c + 32], its first 32 elements
///   (sub-block 2c) from the low nibbles, the next 32 (sub-block 2c + 1) from the high nibbles.
///   Value = d · scale[s] · q − dmin · min[s] for sub-block s.
///   Scales and mins of sub-blocks 0…3 are the low 6 bits of bytes 0…3 and 4…7; those of sub-blocks 4…7
///   are the nibbles of bytes 8…11 (scale low, min high) with their top two bits in the spare top bits of
///   bytes 0…3 (scales) and 4…7 (mins).
/// - q6_K (210 bytes): 128 bytes ql, 64 bytes qh, 16 signed bytes of scales, f16 d. Each half h of 128
///   elements reads ql[64h ..< 64h + 64] and qh[32h ..< 32h + 32]: for l < 32, elements l, l + 32, l + 64,
///   l + 96 of the half take their low four bits from the low nibble of ql[l], of ql[l + 32], the high
///   nibble of ql[l], of ql[l + 32], and their top two bits from bits 0–1, 2–3, 4–5, 6–7 of qh[l].
///   Value = d · scales[e / 16] · (q − 32) for element e of the block.
///
/// Products are formed as ggml's `dequantize_row_q4_K` / `_q6_K` form them, (d · scale) · q − dmin · min
/// in f32, so results match ggml and the `gguf` package bit for bit. The quantizers are plain
/// round-to-nearest with per-sub-block scales, not ggml's iterative search: they exist to build test
/// weights, and their error bounds are what the tests check.
public enum KQuantization {
    /// Elements per super-block.
    public static let blockSize = 256

    /// Whether `dtype` is one of the k-quant formats this file reads and writes.
    public static func supports(_ dtype: DType) -> Bool { dtype == .q4_K || dtype == .q6_K }

    // MARK: - Dequantizing

    /// Dequantizes `count` elements (a multiple of 256) of q4_K or q6_K super-blocks at `src` into `dst`.
    public static func dequantize(
        _ src: UnsafeRawPointer, dtype: DType, count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        precondition(supports(dtype) && count % blockSize == 0, "\(count) \(dtype) elements are not whole blocks")
        for b in 0..<(count / blockSize) {
            let block = src + b * dtype.blockBytes
            let out = dst + b * blockSize
            if dtype == .q4_K { dequantizeQ4K(block, into: out) } else { dequantizeQ6K(block, into: out) }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0…7) from a q4_K block's 12 packed bytes at `scales`.
    @inline(__always)
    public static func scaleMin(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        let q = scales.assumingMemoryBound(to: UInt8.self)
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    static func dequantizeQ4K(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = Quantization.half(block, 0)
        let dmin = Quantization.half(block, 2)
        let qs = block.assumingMemoryBound(to: UInt8.self) + 16
        for c in 0..<4 {
            let (s0, m0) = scaleMin(block + 4, 2 * c)
            let (s1, m1) = scaleMin(block + 4, 2 * c + 1)
            let d0 = d * Float(s0)
            let d1 = d * Float(s1)
            let n0 = dmin * Float(m0)
            let n1 = dmin * Float(m1)
            for l in 0..<32 {
                let q = qs[32 * c + l]
                out[64 * c + l] = d0 * Float(q & 0x0F) - n0
                out[64 * c + 32 + l] = d1 * Float(q >> 4) - n1
            }
        }
    }

    static func dequantizeQ6K(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let bytes = block.assumingMemoryBound(to: UInt8.self)
        let d = Quantization.half(block, 208)
        for h in 0..<2 {
            let ql = bytes + 64 * h
            let qh = bytes + 128 + 32 * h
            for l in 0..<32 {
                let e = 128 * h + l
                // Sub-block of element e + 32t is (e + 32t) / 16 = e / 16 + 2t.
                let s = bytes + 192 + e / 16
                let q0 = Int(ql[l] & 0x0F) | Int(qh[l] & 3) << 4
                let q1 = Int(ql[l + 32] & 0x0F) | Int((qh[l] >> 2) & 3) << 4
                let q2 = Int(ql[l] >> 4) | Int((qh[l] >> 4) & 3) << 4
                let q3 = Int(ql[l + 32] >> 4) | Int(qh[l] >> 6) << 4
                out[e] = d * Float(Int8(bitPattern: s[0])) * Float(q0 - 32)
                out[e + 32] = d * Float(Int8(bitPattern: s[2])) * Float(q1 - 32)
                out[e + 64] = d * Float(Int8(bitPattern: s[4])) * Float(q2 - 32)
                out[e + 96] = d * Float(Int8(bitPattern: s[6])) * Float(q3 - 32)
            }
        }
    }

    // MARK: - Quantizing

    /// Quantizes `count` values (a multiple of 256) at `src` to q4_K or q6_K blocks at `dst`.
    public static func quantize(
        _ src: UnsafePointer<Float>, count: Int, as dtype: DType, into dst: UnsafeMutableRawPointer
    ) {
        precondition(supports(dtype) && count % blockSize == 0, "\(count) \(dtype) elements are not whole blocks")
        for b in 0..<(count / blockSize) {
            let x = Array(UnsafeBufferPointer(start: src + b * blockSize, count: blockSize))
            let block = dst + b * dtype.blockBytes
            if dtype == .q4_K { quantizeQ4K(x, block) } else { quantizeQ6K(x, block) }
        }
    }

    /// Per sub-block of 32: scale = (max − min) / 15 and offset = −min, with min ≤ 0 (the format stores a
    /// non-negative min that is subtracted); both quantized to 6 bits against the largest of the block,
    /// then each q rounded against the scale and min actually stored.
    static func quantizeQ4K(_ x: [Float], _ block: UnsafeMutableRawPointer) {
        var scales = [Float](repeating: 0, count: 8)
        var mins = [Float](repeating: 0, count: 8)
        for s in 0..<8 {
            let sub = x[(32 * s)..<(32 * s + 32)]
            let lo = Swift.min(0, sub.min()!)
            scales[s] = (sub.max()! - lo) / 15
            mins[s] = -lo
        }
        let d = Float(Float16(scales.max()! / 63))
        let dmin = Float(Float16(mins.max()! / 63))
        let sc = scales.map { d > 0 ? UInt8(Swift.min(63, ($0 / d).rounded())) : 0 }
        let mn = mins.map { dmin > 0 ? UInt8(Swift.min(63, ($0 / dmin).rounded())) : 0 }
        Quantization.storeHalf(d, block, 0)
        Quantization.storeHalf(dmin, block, 2)
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = sc[j] | ((sc[j + 4] >> 4) << 6)
            packed[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6)
            packed[j + 8] = (sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4)
        }
        for (i, v) in packed.enumerated() { block.storeBytes(of: v, toByteOffset: 4 + i, as: UInt8.self) }
        var q = [UInt8](repeating: 0, count: 256)
        for s in 0..<8 {
            let step = d * Float(sc[s])
            let offset = dmin * Float(mn[s])
            for e in (32 * s)..<(32 * s + 32) {
                q[e] = step > 0 ? UInt8(Swift.max(0, Swift.min(15, ((x[e] + offset) / step).rounded()))) : 0
            }
        }
        for c in 0..<4 {
            for l in 0..<32 {
                block.storeBytes(
                    of: q[64 * c + l] | (q[64 * c + 32 + l] << 4), toByteOffset: 16 + 32 * c + l, as: UInt8.self)
            }
        }
    }

    /// Per sub-block of 16: scale = the value of largest magnitude / −32 (so it maps to q = −32, the end
    /// with one more step), quantized to int8 against the largest scale; q rounded against the stored scale.
    static func quantizeQ6K(_ x: [Float], _ block: UnsafeMutableRawPointer) {
        var scales = [Float](repeating: 0, count: 16)
        for s in 0..<16 {
            var amax: Float = 0
            var extreme: Float = 0
            for v in x[(16 * s)..<(16 * s + 16)] where abs(v) > amax {
                amax = abs(v)
                extreme = v
            }
            scales[s] = extreme / -32
        }
        let largest = scales.map(abs).max()!
        let d = Float(Float16(largest / 127))
        let sc = scales.map { d > 0 ? Int8(Swift.max(-127, Swift.min(127, ($0 / d).rounded()))) : 0 }
        var q = [UInt8](repeating: 32, count: 256)
        for e in 0..<256 {
            let step = d * Float(sc[e / 16])
            if step != 0 { q[e] = UInt8(Swift.max(-32, Swift.min(31, (x[e] / step).rounded())) + 32) }
        }
        for h in 0..<2 {
            for l in 0..<32 {
                let (a, b, c, e) = (q[128 * h + l], q[128 * h + l + 32], q[128 * h + l + 64], q[128 * h + l + 96])
                block.storeBytes(of: (a & 0x0F) | ((c & 0x0F) << 4), toByteOffset: 64 * h + l, as: UInt8.self)
                block.storeBytes(of: (b & 0x0F) | ((e & 0x0F) << 4), toByteOffset: 64 * h + l + 32, as: UInt8.self)
                block.storeBytes(
                    of: (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6), toByteOffset: 128 + 32 * h + l,
                    as: UInt8.self)
            }
        }
        for (s, v) in sc.enumerated() { block.storeBytes(of: v, toByteOffset: 192 + s, as: Int8.self) }
        Quantization.storeHalf(d, block, 208)
    }
}
