import Tensors

/// Linear products y = x · Wᵀ (+ bias) with W [n, k] kept in ggml's k-quant super-blocks (q4_K, q6_K).
///
/// A few rows of x (decoding): each super-block is decoded in registers and dotted with x while W streams
/// from memory once, output rows split over the cores. q4_K's per-sub-block min is applied once per
/// sub-block through the sum of x over it, precomputed per row of x; q6_K's −32 offset comes off in the
/// integer-to-float step. More rows (prefill): tiles of W dequantized into f32 scratch for sgemm, as
/// `QuantizedMatrix` does.
enum KQuantMatrix {
    static func run(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        precondition(KQuantization.supports(dtype) && k % 256 == 0, "no kernel for \(dtype) rows of \(k)")
        if m <= QuantizedMatrix.vectorRows {
            matrixVector(w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
        } else {
            QuantizedMatrix.tiled(
                w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
        }
    }

    // MARK: - Matrix-vector

    /// Both formats keep each group of 32 consecutive elements in 32 consecutive bytes, one element per byte
    /// (q4_K: a nibble of qs; q6_K: a nibble of ql and two bits of qh). Read as eight 32-bit words and
    /// unpacked byte position by byte position, unpacked vector b of a group holds, in lane w, element
    /// 4w + b: `QuantizedMatrix.q8Order`, into which x is permuted once per call.
    static func matrixVector(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let groups = k / 32
        let order = QuantizedMatrix.q8Order
        var xp = [Float](repeating: 0, count: m * k)
        var sums = [Float](repeating: 0, count: m * groups)
        for g in 0..<(m * groups) {
            var sum: Float = 0
            for e in 0..<32 {
                xp[g * 32 + e] = x[g * 32 + order[e]]
                sum += x[g * 32 + e]
            }
            sums[g] = sum
        }
        let b = bias?.toF32()
        let ws = SharedPointer(w.assumingMemoryBound(to: UInt8.self))
        let ys = SharedPointer(y)
        let blocks = k / 256
        let rowBytes = blocks * dtype.blockBytes
        xp.withUnsafeBufferPointer { xbuf in
            sums.withUnsafeBufferPointer { sp in
                let xs = SharedPointer(xbuf.baseAddress!)
                let ss = SharedPointer(sp.baseAddress!)
                let bs = b.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
                parallelFor(n, threads: threads, grain: streamingGrain(bytesPerItem: rowBytes, minimum: 32)) { range in
                    for j in range {
                        let row = UnsafeRawPointer(ws.base + j * rowBytes)
                        for i in 0..<m {
                            let xi = UnsafeRawPointer(xs.base + i * k)
                            let dot =
                                dtype == .q4_K
                                ? q4KRow(row, blocks: blocks, x: xi, sums: ss.base + i * groups)
                                : q6KRow(row, blocks: blocks, x: xi)
                            ys.base[i * n + j] = dot + (bs?.base[j] ?? 0)
                        }
                    }
                }
                withExtendedLifetime(b) {}
            }
        }
    }

    /// Small non-negative integers (< 2²³) as floats minus `offset`: OR-ed into the mantissa of 2²³.
    /// (Not `SIMD8<Float>(SIMD8<Int32>)`: once a second file used that generic conversion, the optimiser
    /// stopped inlining it into `QuantizedMatrix`'s loops, which then ran at a quarter of their speed.)
    @inline(__always)
    private static func floats(_ v: SIMD8<UInt32>, minus offset: Float) -> SIMD8<Float> {
        unsafeBitCast(v | SIMD8(repeating: 0x4B00_0000), to: SIMD8<Float>.self) - SIMD8(repeating: 8_388_608 + offset)
    }

    /// Σ q · x over one 32-element group whose four byte positions are `v`'s bytes (masked by `mask`
    /// after shifting by 0, 8, 16, 24 plus `shift`), minus `offset` per q; x in `q8Order` at `xg`.
    @inline(__always)
    private static func group(
        _ v: SIMD8<UInt32>, shift: UInt32, mask: UInt32, minus offset: Float, _ xg: UnsafeRawPointer
    ) -> SIMD8<Float> {
        let mk = SIMD8<UInt32>(repeating: mask)
        var s = floats((v &>> shift) & mk, minus: offset) * xg.loadUnaligned(as: SIMD8<Float>.self)
        s.addProduct(
            floats((v &>> (shift + 8)) & mk, minus: offset), xg.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        )
        s.addProduct(
            floats((v &>> (shift + 16)) & mk, minus: offset),
            xg.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
        s.addProduct(
            floats((v &>> (shift + 24)) & mk, minus: offset),
            xg.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        return s
    }

    /// One q4_K row dotted with x (`q8Order` within each 32-element group, `sums` Σ x per group).
    @inline(__always)
    private static func q4KRow(
        _ row: UnsafeRawPointer, blocks: Int, x: UnsafeRawPointer, sums: UnsafeMutablePointer<Float>
    ) -> Float {
        let bytePos = SIMD8<UInt32>(0, 8, 16, 24, 0, 8, 16, 24)
        let byte = SIMD8<UInt32>(repeating: 0xFF)
        var acc = SIMD8<Float>(repeating: 0)
        var mins = SIMD8<Float>(repeating: 0)
        for b in 0..<blocks {
            let block = row + b * 144
            let d = half(block, 0)
            let dmin = half(block, 2)
            // The eight 6-bit scales and mins, four to a word, unpacked together (layout: `KQuantization`).
            let w0 = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let w1 = block.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            let w2 = block.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
            let sc = SIMD8<UInt32>(
                lowHalf: SIMD4(repeating: w0 & 0x3F3F_3F3F),
                highHalf: SIMD4(repeating: (w2 & 0x0F0F_0F0F) | ((w0 >> 2) & 0x3030_3030)))
            let mn = SIMD8<UInt32>(
                lowHalf: SIMD4(repeating: w1 & 0x3F3F_3F3F),
                highHalf: SIMD4(repeating: ((w2 >> 4) & 0x0F0F_0F0F) | ((w1 >> 2) & 0x3030_3030)))
            let scales = floats((sc &>> bytePos) & byte, minus: 0) * d
            mins.addProduct(
                floats((mn &>> bytePos) & byte, minus: 0) * dmin,
                UnsafeRawPointer(sums + b * 8).loadUnaligned(as: SIMD8<Float>.self))
            let xb = x + b * 1024
            for c in 0..<4 {
                let v = block.loadUnaligned(fromByteOffset: 16 + 32 * c, as: SIMD8<UInt32>.self)
                acc.addProduct(group(v, shift: 0, mask: 0x0F, minus: 0, xb + 256 * c), SIMD8(repeating: scales[2 * c]))
                acc.addProduct(
                    group(v, shift: 4, mask: 0x0F, minus: 0, xb + 256 * c + 128), SIMD8(repeating: scales[2 * c + 1]))
            }
        }
        return acc.sum() - mins.sum()
    }

    /// One q6_K row dotted with x (`q8Order` within each 32-element group).
    @inline(__always)
    private static func q6KRow(_ row: UnsafeRawPointer, blocks: Int, x: UnsafeRawPointer) -> Float {
        let low = SIMD8<UInt32>(repeating: 0x0F0F_0F0F)
        let two = SIMD8<UInt32>(repeating: 0x0303_0303)
        var total: Float = 0
        for b in 0..<blocks {
            let block = row + b * 210
            let scales = block.assumingMemoryBound(to: Int8.self) + 192
            var acc = SIMD8<Float>(repeating: 0)
            for h in 0..<2 {
                let qa = block.loadUnaligned(fromByteOffset: 64 * h, as: SIMD8<UInt32>.self)
                let qb = block.loadUnaligned(fromByteOffset: 64 * h + 32, as: SIMD8<UInt32>.self)
                let qh = block.loadUnaligned(fromByteOffset: 128 + 32 * h, as: SIMD8<UInt32>.self)
                let xh = x + b * 1024 + 512 * h
                let sc = scales + 8 * h
                // Four groups of 32 six-bit values, one per byte: a nibble of ql | two bits of qh << 4.
                acc.addProduct(group6((qa & low) | ((qh & two) &<< 4), xh), scalePair(sc, 0))
                acc.addProduct(group6((qb & low) | (((qh &>> 2) & two) &<< 4), xh + 128), scalePair(sc, 2))
                acc.addProduct(group6(((qa &>> 4) & low) | (((qh &>> 4) & two) &<< 4), xh + 256), scalePair(sc, 4))
                acc.addProduct(group6(((qb &>> 4) & low) | (((qh &>> 6) & two) &<< 4), xh + 384), scalePair(sc, 6))
            }
            total += half(block, 208) * acc.sum()
        }
        return total
    }

    /// Σ (q − 32) · x over a group of 32 six-bit values packed one per byte in `v`.
    @inline(__always)
    private static func group6(_ v: SIMD8<UInt32>, _ xg: UnsafeRawPointer) -> SIMD8<Float> {
        group(v, shift: 0, mask: 0xFF, minus: 32, xg)
    }

    /// Lanes 0–3 (elements 0–15 of a group) take scale `s[i]`, lanes 4–7 (elements 16–31) `s[i + 1]`.
    @inline(__always)
    private static func scalePair(_ s: UnsafePointer<Int8>, _ i: Int) -> SIMD8<Float> {
        let a = Float(s[i])
        let b = Float(s[i + 1])
        return SIMD8(a, a, a, a, b, b, b, b)
    }

    @inline(__always)
    private static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }
}
