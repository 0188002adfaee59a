import CKernels
import Tensors

/// Linear products y = x · Wᵀ (+ bias) with W [n, k] kept in a ggml block format (q4_0, q4_1, q8_0).
///
/// A few rows of x (decoding): each weight block is decoded to 32 floats in registers and dotted with x
/// while W streams from memory once, output rows split over the cores. The block's offset (q4_0's −8 · d,
/// q4_1's m) is applied once per block through the sum of x over the block, precomputed per row of x.
/// More rows (prefill): W is dequantized a tile of rows at a time into f32 scratch for sgemm.
///
/// On AVX-512 the weights are also packed at load (`packedForm`) for decoding: 16 rows interleaved per block, x
/// rounded to 16-bit integers per block (a relative error of at most 2⁻¹⁶ of the block's largest |x|), and
/// integer products (`hark_quant_packed_matvec`: 2.5–3× the float kernel's rate on one core, measured). The same
/// packed records serve `Arithmetic.ggml`'s 8-bit products (`CPUBackend.ggmlLinear`), which round as llama.cpp does.
enum QuantizedMatrix {
    /// Rows of x up to which the matrix-vector path runs.
    static let vectorRows = 4

    static func run(
        w: UnsafeRawPointer, packed: UnsafeRawPointer? = nil, dtype: DType, rows n: Int, cols k: Int,
        x: UnsafePointer<Float>, count m: Int, bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        precondition(Quantization.supports(dtype) && k % 32 == 0, "no kernel for \(dtype) rows of \(k)")
        if m <= vectorRows, let packed {
            matrixVectorPacked(
                w: w, packed: packed, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads
            )
        } else if m <= vectorRows {
            matrixVector(w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
        } else {
            tiled(w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
        }
    }

    // MARK: - Matrix-vector

    /// Each block's quants are unpacked 32-bit lane-wise (a mask per 8 values, see `q4Scale`; no
    /// per-byte shuffles), which leaves them in a fixed order within the block; x is permuted once per
    /// call into that order. Lane l of unpacked vector v of a q4 block holds element `q4Order[v * 8 + l]`.
    static let q4Order: [Int] = {
        let shifts: [(UInt32, UInt32)] = [(0, 8), (16, 24), (4, 12), (20, 28)]
        return (0..<32).map { i in
            let (v, l) = (i / 8, i % 8)
            let s = l < 4 ? shifts[v].0 : shifts[v].1
            return 4 * (l % 4) + Int(s / 8) + (s % 8 == 4 ? 16 : 0)
        }
    }()

    /// The same for q8_0: unpacked vector v holds byte v of each of the block's eight 32-bit words.
    static let q8Order: [Int] = (0..<32).map { i in 4 * (i % 8) + i / 8 }

    /// The kernels mask each quant where it lies in its 32-bit word instead of shifting it down, so they
    /// convert q · 2^s to float; x is scaled by 2^−s to match. Both scalings are exact (short of |x| < 2⁻⁹⁸,
    /// which underflows), so every product q · x rounds as it would unscaled. Lane l of q4 vector v sits at bit `q4Bits[v][l < 4 ? 0 : 1]`
    /// (vector 3's nibbles at bits 20 and 28 are first shifted down by 4, keeping them off the sign bit).
    static let q4Bits: [(UInt32, UInt32)] = [(0, 8), (16, 24), (4, 12), (16, 24)]
    static let q4Scale: [Float] = (0..<32).map { i in
        let bits = q4Bits[i / 8]
        return Float(sign: .plus, exponent: -Int(i % 8 < 4 ? bits.0 : bits.1), significand: 1)
    }
    /// q8_0's bytes are moved to the top of their word (q · 2²⁴ as a signed integer).
    static let q8Scale = [Float](repeating: Float(sign: .plus, exponent: -24, significand: 1), count: 32)

    /// Whether the AVX-512 kernels in C can run (CKernels/quant.c: wider vectors, natural element order).
    static let vectorC = hark_cpu_has_avx512() != 0

    /// The C kernel serves the q4 formats (1.3–2× the Swift kernel's bandwidth in `hark-bench quant`); for q8_0
    /// the Swift kernel measured as fast or faster (576 → 49152: 48–52 GB/s against 30).
    static func prefersC(_ dtype: DType) -> Bool { vectorC && dtype != .q8_0 }

    static func matrixVector(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int, useC: Bool? = nil
    ) {
        let blocks = k / 32
        if useC ?? prefersC(dtype) {
            matrixVectorC(w: w, dtype: dtype, rows: n, cols: k, x: x, count: m, bias: bias, y: y, threads: threads)
            return
        }
        // x in unpacking order, and Σ x over each block of each row of x for the per-block offsets.
        let order = dtype == .q8_0 ? q8Order : q4Order
        var xp = [Float](repeating: 0, count: m * k)
        var sums = [Float](repeating: 0, count: m * blocks)
        let scale = dtype == .q8_0 ? q8Scale : q4Scale
        for i in 0..<(m * blocks) {
            var sum: Float = 0
            for e in 0..<32 {
                xp[i * 32 + e] = x[i * 32 + order[e]] * scale[e]
                sum += x[i * 32 + e]
            }
            sums[i] = sum
        }
        let b = bias?.toF32()
        let ws = SharedPointer(w.assumingMemoryBound(to: UInt8.self))
        let ys = SharedPointer(y)
        let rowBytes = blocks * dtype.blockBytes
        xp.withUnsafeBufferPointer { xbuf in
            sums.withUnsafeBufferPointer { sp in
                let xs = SharedPointer(xbuf.baseAddress!)
                let ss = SharedPointer(sp.baseAddress!)
                let bs = b.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
                parallelFor(n, threads: threads, grain: streamingGrain(bytesPerItem: rowBytes, minimum: 64)) { range in
                    for j in range {
                        let row = UnsafeRawPointer(ws.base + j * rowBytes)
                        for i in 0..<m {
                            let xi = UnsafeRawPointer(xs.base + i * k)
                            let si = ss.base + i * blocks
                            let dot: Float
                            switch dtype {
                            case .q4_0: dot = q4Row(row, blockBytes: 18, blocks: blocks, x: xi, sums: si, offset: -8)
                            case .q4_1: dot = q4Row(row, blockBytes: 20, blocks: blocks, x: xi, sums: si, offset: nil)
                            default: dot = q8Row(row, blocks: blocks, x: xi)
                            }
                            ys.base[i * n + j] = dot + (bs?.base[j] ?? 0)
                        }
                    }
                }
                withExtendedLifetime(b) {}
            }
        }
    }

    static func matrixVectorC(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let blocks = k / 32
        let format = format(dtype)
        let rowBytes = blocks * dtype.blockBytes
        let (ws, xs, ys) = (SharedPointer(w.assumingMemoryBound(to: UInt8.self)), SharedPointer(x), SharedPointer(y))
        parallelFor(n, threads: threads, grain: streamingGrain(bytesPerItem: rowBytes, minimum: 64)) { range in
            hark_quant_matvec_avx512(
                ws.base, rowBytes, format, blocks, xs.base, m, ys.base, n, range.lowerBound, range.upperBound)
        }
        if let bias {
            bias.toF32().withUnsafeFloats { bp in
                for i in 0..<m {
                    for j in 0..<n { y[i * n + j] += bp[j] }
                }
            }
        }
    }

    // MARK: - Packed

    /// Whether the packed kernel uses VNNI's vpdpwssd (else vpmaddwd + vpaddd).
    static let vnni = hark_cpu_has_avx512_vnni() != 0

    /// Packed bytes per thread below which a product stays on fewer threads: at ~40 GB/s per core a 64 KB share
    /// takes ~1.6 µs, about what handing it to a spinning worker costs (256 KB measured 4 % slower decoding).
    static let packedShare = 64 << 10

    /// The C kernels' number for a block format.
    static func format(_ dtype: DType) -> Int32 { dtype == .q4_0 ? 0 : dtype == .q4_1 ? 1 : 2 }

    /// The weight packed for `hark_quant_packed_matvec` (its rows in groups of 16; rows past the last whole group
    /// stay with the plain kernel), or nil where that kernel does not run.
    static func packedForm(of weight: Tensor, use: WeightUse) -> Tensor? {
        guard vectorC, use == .linear, Quantization.supports(weight.dtype), !KQuantization.supports(weight.dtype),
            weight.rank == 2, weight.shape[0] >= 16, weight.shape[1] % 32 == 0
        else { return nil }
        let (n, k) = (weight.shape[0], weight.shape[1])
        let (groups, blocks) = (n / 16, k / 32)
        let bytes = groups * blocks * hark_quant_packed_record(format(weight.dtype))
        let storage = TensorStorage(uninitializedBytes: bytes)
        let done = weight.withUnsafeBytes { w in
            hark_quant_pack16(
                w.baseAddress!.assumingMemoryBound(to: UInt8.self), blocks * weight.dtype.blockBytes,
                format(weight.dtype), blocks, groups, storage.base.assumingMemoryBound(to: UInt8.self))
        }
        return done != 0 ? Tensor(shape: [bytes], dtype: .u8, storage: storage) : nil
    }

    /// x (whole blocks of 32) as 16-bit integers per block: q = round(x / s), s = max |x| / 32767 over the block,
    /// with each block's s and s · Σ q.
    static func sixteenBit(_ x: UnsafePointer<Float>, count: Int) -> (q: [Int16], scale: [Float], sum: [Float]) {
        var q = [Int16](repeating: 0, count: count)
        var scale = [Float](repeating: 0, count: count / 32)
        var sum = [Float](repeating: 0, count: count / 32)
        hark_quantize_i16(x, count, &q, &scale, &sum)
        return (q, scale, sum)
    }

    static func matrixVectorPacked(
        w: UnsafeRawPointer, packed: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>,
        count m: Int, bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int, vnni: Bool = vnni
    ) {
        let (blocks, groups) = (k / 32, n / 16)
        let (vnni, format) = (Int32(vnni ? 1 : 0), format(dtype))
        let record = hark_quant_packed_record(format)
        let (ps, ys) = (SharedPointer(packed.assumingMemoryBound(to: UInt8.self)), SharedPointer(y))
        // x as 16-bit integers, then each block's scale and sum: scratch on the stack, not three arrays per call
        // (a decoded token makes a few hundred of these calls).
        let (count, scales) = (m * k, m * blocks)
        withUnsafeTemporaryAllocation(byteCount: count * 2 + 2 * scales * 4, alignment: 64) { raw in
            let base = raw.baseAddress!
            let q = base.bindMemory(to: Int16.self, capacity: count)
            let scale = (base + count * 2).bindMemory(to: Float.self, capacity: 2 * scales)
            hark_quantize_i16(x, count, q, scale, scale + scales)
            let (qs, ss) = (SharedPointer(q), SharedPointer(scale))
            let grain = streamingGrain(bytesPerItem: blocks * record, minimum: 2, bytesPerThread: Self.packedShare)
            parallelFor(groups, threads: threads, grain: grain) { range in
                hark_quant_packed_matvec(
                    format, ps.base, blocks, qs.base, ss.base, ss.base + scales, m, ys.base, n, range.lowerBound,
                    range.upperBound, vnni)
            }
        }
        if groups * 16 < n {
            // The rows after the last whole group, from the file's blocks.
            hark_quant_matvec_avx512(
                w.assumingMemoryBound(to: UInt8.self), blocks * dtype.blockBytes, format, blocks, x, m, y, n,
                groups * 16, n)
        }
        if let bias {
            bias.toF32().withUnsafeFloats { bp in
                for i in 0..<m {
                    for j in 0..<n { y[i * n + j] += bp[j] }
                }
            }
        }
    }

    /// Signed 32-bit lanes as floats.
    @inline(__always)
    private static func floats(_ v: SIMD8<UInt32>) -> SIMD8<Float> {
        SIMD8<Float>(unsafeBitCast(v, to: SIMD8<Int32>.self))
    }

    /// Σ over the blocks of one q4_0 (`offset` −8: value (q − 8) · d) or q4_1 (`offset` nil: value q · d + m)
    /// row, dotted with x (in `q4Order`, scaled by `q4Scale`).
    @inline(__always)
    private static func q4Row(
        _ row: UnsafeRawPointer, blockBytes: Int, blocks: Int, x: UnsafeRawPointer, sums: UnsafeMutablePointer<Float>,
        offset: Float?
    ) -> Float {
        let m0 = SIMD8<UInt32>(0xF, 0xF, 0xF, 0xF, 0xF00, 0xF00, 0xF00, 0xF00)
        let m1 = m0 &<< 16
        let m2 = m0 &<< 4
        var acc = SIMD8<Float>(repeating: 0)
        var shift: Float = 0
        let qs = blockBytes - 16
        for b in 0..<blocks {
            let block = row + b * blockBytes
            let d = half(block, 0)
            let w4 = block.loadUnaligned(fromByteOffset: qs, as: SIMD4<UInt32>.self)
            let w = SIMD8<UInt32>(lowHalf: w4, highHalf: w4)
            let xb = x + b * 128
            var s = floats(w & m0) * xb.loadUnaligned(as: SIMD8<Float>.self)
            var t = floats(w & m1) * xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            s.addProduct(floats(w & m2), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            t.addProduct(floats((w &>> 4) & m1), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            acc.addProduct(s + t, SIMD8(repeating: d))
            if let offset {
                shift += offset * d * sums[b]
            } else {
                shift += half(block, 2) * sums[b]
            }
        }
        return acc.sum() + shift
    }

    /// One q8_0 row dotted with x (in `q8Order`, scaled by 2⁻²⁴): byte b of each word is moved to the top
    /// (its sign becomes the word's sign) and the bytes below it masked off.
    @inline(__always)
    private static func q8Row(_ row: UnsafeRawPointer, blocks: Int, x: UnsafeRawPointer) -> Float {
        let top = SIMD8<UInt32>(repeating: 0xFF00_0000)
        var acc0 = SIMD8<Float>(repeating: 0)
        var acc1 = SIMD8<Float>(repeating: 0)
        for b in 0..<blocks {
            let block = row + b * 34
            let d = half(block, 0)
            let w = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt32>.self)
            let xb = x + b * 128
            var s0 = floats(w &<< 24) * xb.loadUnaligned(as: SIMD8<Float>.self)
            var s1 = floats((w &<< 16) & top) * xb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            s0.addProduct(floats((w &<< 8) & top), xb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            s1.addProduct(floats(w & top), xb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            if b & 1 == 0 {
                acc0.addProduct(s0 + s1, SIMD8(repeating: d))
            } else {
                acc1.addProduct(s0 + s1, SIMD8(repeating: d))
            }
        }
        return (acc0 + acc1).sum()
    }

    /// The f16 at `offset` in a block, as `Float`.
    @inline(__always)
    private static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    // MARK: - Tiled sgemm

    /// Rows of W dequantized per tile: a few MB of scratch, reused tile after tile.
    static func tileRows(cols k: Int) -> Int { max(64, (4 << 20) / (k * 4)) }

    static func tiled(
        w: UnsafeRawPointer, dtype: DType, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int,
        bias: Tensor?, y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let beta: Float = bias == nil ? 0 : 1
        if let bias {
            bias.toF32().withUnsafeFloats { bp in
                for r in 0..<m { (y + r * n).update(from: bp.baseAddress!, count: n) }
            }
        }
        let rowBytes = dtype.byteCount(elements: k)!
        let tile = min(n, tileRows(cols: k))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tile * k)
        defer { scratch.deallocate() }
        let ss = SharedPointer(scratch)
        let ws = SharedPointer(w.assumingMemoryBound(to: UInt8.self))
        for j0 in stride(from: 0, to: n, by: tile) {
            let rows = min(tile, n - j0)
            parallelFor(rows, threads: threads, grain: 16) { range in
                for r in range {
                    Quantization.dequantize(
                        UnsafeRawPointer(ws.base + (j0 + r) * rowBytes), dtype: dtype, count: k, into: ss.base + r * k)
                }
            }
            Gemm.multiply(
                transposeB: true, m: m, n: rows, k: k, a: x, lda: k, b: scratch, ldb: k, beta: beta, c: y + j0, ldc: n,
                threads: threads)
        }
    }
}
