import CKernels

/// Multi-head attention on the CPU without a [heads, rows, keys] score matrix in memory.
///
/// Many query rows (Whisper's encoder: 1500 per head): each key/value head's keys are first packed
/// transposed in panels of 16 (`[keys / 16][headDim][16]`), then one task — a head and a block of query
/// rows — computes its scores with a 4 × 16 register tile (a broadcast query feature times two 8-wide key
/// vectors: eight FMAs per feature), takes the softmax of its score rows while they are in cache, and
/// multiplies them into v with a 4 × 16 tile of the output. Tasks run in parallel over (head, block).
/// Few rows (decoding a token): one dot product per key read straight from k, no packing, since the
/// keys are read once.
///
/// On CPUs with AVX-512 both paths run CKernels' attention.c instead: many rows by the same design with
/// 16-lane vectors, 32-key panels and larger register tiles (12 × 32 scores, 6 × 64 outputs); one row by
/// sixteen keys' dot products at a time and the value product summed in registers.
enum AttentionKernels {
    typealias Lanes = SIMD8<Float>
    /// Keys per packed panel: two 8-wide vectors.
    static let panelWidth = 16
    /// Query rows per task: the block's scores (16 × keys floats) stay in L2 beside the head's k and v.
    static let blockRows = 16
    /// Rows per head from which packing the keys pays for itself.
    static let packedFrom = 8
    /// Whether the AVX-512 C kernels run (probed once; HARK_CPU_KERNELS=avx2 says no).
    static let vectorised = hark_cpu_has_avx512() != 0

    static func run(
        q: UnsafePointer<Float>, _ qv: MatrixView, k: UnsafePointer<Float>, _ kv: MatrixView, v: UnsafePointer<Float>,
        _ vv: MatrixView, scale: Float, causalOffset: Int?, out: UnsafeMutablePointer<Float>, _ ov: MatrixView,
        threads: Int
    ) {
        if qv.rows >= packedFrom && qv.cols % panelWidth == 0 && vv.cols % panelWidth == 0 {
            blocked(
                q: q, qv, k: k, kv, v: v, vv, scale: scale, causalOffset: causalOffset, out: out, ov,
                threads: threads)
        } else {
            rowwise(
                q: q, qv, k: k, kv, v: v, vv, scale: scale, causalOffset: causalOffset, out: out, ov,
                threads: threads)
        }
    }

    /// Keys row `r` sees.
    @inline(__always)
    static func visible(_ r: Int, keys: Int, causalOffset: Int?) -> Int {
        guard let c = causalOffset else { return keys }
        return min(keys, max(0, r + c + 1))
    }

    // MARK: - Few rows

    static func rowwise(
        q: UnsafePointer<Float>, _ qv: MatrixView, k: UnsafePointer<Float>, _ kv: MatrixView, v: UnsafePointer<Float>,
        _ vv: MatrixView, scale: Float, causalOffset: Int?, out: UnsafeMutablePointer<Float>, _ ov: MatrixView,
        threads: Int
    ) {
        rowwise(
            q: q, qv, k: UnsafeRawPointer(k), kv, v: UnsafeRawPointer(v), vv, half: false, scale: scale,
            causalOffset: causalOffset, out: out, ov, threads: threads)
    }

    /// Few rows with k and v in f16 when `half` (a decoder's cross-attention cache: half the bytes per token).
    /// `vectorised` runs each row with the AVX-512 C kernel (tests run both).
    static func rowwise(
        q: UnsafePointer<Float>, _ qv: MatrixView, k: UnsafeRawPointer, _ kv: MatrixView, v: UnsafeRawPointer,
        _ vv: MatrixView, half: Bool, scale: Float, causalOffset: Int?, out: UnsafeMutablePointer<Float>,
        _ ov: MatrixView, threads: Int, vectorised: Bool = vectorised
    ) {
        let (rows, e, keys, ev) = (qv.rows, qv.cols, kv.rows, vv.cols)
        let group = qv.batch / kv.batch
        let size = half ? 2 : 4
        let ks = SharedPointer(k.assumingMemoryBound(to: UInt8.self))
        let vs = SharedPointer(v.assumingMemoryBound(to: UInt8.self))
        let (qs, os) = (SharedPointer(q), SharedPointer(out))
        // A task (one row of one head) reads that head's keys and values.
        let grain = streamingGrain(bytesPerItem: keys * (e + ev) * size, bytesPerThread: 128 << 10)
        parallelFor(qv.batch * rows, threads: threads, grain: grain) { range in
            let s = UnsafeMutablePointer<Float>.allocate(capacity: keys + ev)
            defer { s.deallocate() }
            let acc = s + keys
            for task in range {
                let (h, r) = (task / rows, task % rows)
                let kb = h / group
                let keep = visible(r, keys: keys, causalOffset: causalOffset)
                let orow = os.base + ov.offset + h * ov.batchStride + r * ov.rowStride
                guard keep > 0 else {
                    orow.update(repeating: 0, count: ev)
                    continue
                }
                let qrow = UnsafePointer(qs.base + qv.offset + h * qv.batchStride + r * qv.rowStride)
                let kbase = UnsafeRawPointer(ks.base + (kv.offset + kb * kv.batchStride) * size)
                let vbase = UnsafeRawPointer(vs.base + (vv.offset + vv.batchStride * kb) * size)
                if vectorised {
                    hark_attention_row_avx512(
                        qrow, e, kbase, kv.rowStride, vbase, vv.rowStride, ev, keep, half ? 1 : 0, scale, orow, s)
                    continue
                }
                acc.update(repeating: 0, count: ev)
                if half {
                    for j in 0..<keep { s[j] = scale * dot(qrow, halves: kbase + j * kv.rowStride * 2, e) }
                    let inv = softmaxRow(s, keep)
                    for j in 0..<keep { axpy(s[j], halves: vbase + j * vv.rowStride * 2, acc, ev) }
                    for c in 0..<ev { orow[c] = acc[c] * inv }
                    continue
                }
                let kf = kbase.assumingMemoryBound(to: Float.self)
                for j in 0..<keep { s[j] = scale * dot(qrow, kf + j * kv.rowStride, e) }
                let inv = softmaxRow(s, keep)
                let vf = vbase.assumingMemoryBound(to: Float.self)
                for j in 0..<keep { axpy(s[j], vf + j * vv.rowStride, acc, ev) }
                for c in 0..<ev { orow[c] = acc[c] * inv }
            }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        let (ar, br) = (UnsafeRawPointer(a), UnsafeRawPointer(b))
        var s0 = Lanes()
        var s1 = Lanes()
        var c = 0
        while c + 16 <= n {
            s0.addProduct(
                ar.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self),
                br.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self))
            s1.addProduct(
                ar.loadUnaligned(fromByteOffset: c * 4 + 32, as: Lanes.self),
                br.loadUnaligned(fromByteOffset: c * 4 + 32, as: Lanes.self))
            c += 16
        }
        var s = (s0 + s1).sum()
        while c < n {
            s += a[c] * b[c]
            c += 1
        }
        return s
    }

    /// dot(a, b) with b in f16, converted eight at a time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, halves b: UnsafeRawPointer, _ n: Int) -> Float {
        let ar = UnsafeRawPointer(a)
        var s0 = Lanes()
        var s1 = Lanes()
        var c = 0
        while c + 16 <= n {
            s0.addProduct(
                ar.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self),
                Lanes(b.loadUnaligned(fromByteOffset: c * 2, as: SIMD8<Float16>.self)))
            s1.addProduct(
                ar.loadUnaligned(fromByteOffset: c * 4 + 32, as: Lanes.self),
                Lanes(b.loadUnaligned(fromByteOffset: c * 2 + 16, as: SIMD8<Float16>.self)))
            c += 16
        }
        var s = (s0 + s1).sum()
        while c < n {
            s += a[c] * Float(b.loadUnaligned(fromByteOffset: c * 2, as: Float16.self))
            c += 1
        }
        return s
    }

    /// y += a · x with x in f16.
    @inline(__always)
    static func axpy(_ a: Float, halves x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let yr = UnsafeMutableRawPointer(y)
        let av = Lanes(repeating: a)
        var c = 0
        while c + 8 <= n {
            var yv = yr.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self)
            yv.addProduct(av, Lanes(x.loadUnaligned(fromByteOffset: c * 2, as: SIMD8<Float16>.self)))
            yr.storeBytes(of: yv, toByteOffset: c * 4, as: Lanes.self)
            c += 8
        }
        while c < n {
            y[c] += a * Float(x.loadUnaligned(fromByteOffset: c * 2, as: Float16.self))
            c += 1
        }
    }

    /// y += a · x.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let (xr, yr) = (UnsafeRawPointer(x), UnsafeMutableRawPointer(y))
        let av = Lanes(repeating: a)
        var c = 0
        while c + 8 <= n {
            var yv = yr.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self)
            yv.addProduct(av, xr.loadUnaligned(fromByteOffset: c * 4, as: Lanes.self))
            yr.storeBytes(of: yv, toByteOffset: c * 4, as: Lanes.self)
            c += 8
        }
        while c < n {
            y[c] += a * x[c]
            c += 1
        }
    }

    /// exp(s − max) in place over the first n scores; returns 1 / Σ.
    @inline(__always)
    static func softmaxRow(_ s: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = VectorMath.max(s, n)
        for i in 0..<n { s[i] = VectorMath.exp(s[i] - m) }
        return 1 / VectorMath.sum(s, n)
    }

    // MARK: - Many rows

    /// The many-rows path; `vectorised` picks the AVX-512 C kernel (tests run both).
    static func blocked(
        q: UnsafePointer<Float>, _ qv: MatrixView, k: UnsafePointer<Float>, _ kv: MatrixView, v: UnsafePointer<Float>,
        _ vv: MatrixView, scale: Float, causalOffset: Int?, out: UnsafeMutablePointer<Float>, _ ov: MatrixView,
        threads: Int, vectorised: Bool = vectorised
    ) {
        if vectorised {
            blockedAVX512(
                q: q, qv, k: k, kv, v: v, vv, scale: scale, causalOffset: causalOffset, out: out, ov,
                threads: threads)
            return
        }
        let (rows, e, keys, ev) = (qv.rows, qv.cols, kv.rows, vv.cols)
        let group = qv.batch / kv.batch
        let panels = (keys + panelWidth - 1) / panelWidth
        let padded = panels * panelWidth
        let headStride = padded * e
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: kv.batch * headStride)
        defer { packed.deallocate() }
        let (qs, ks, vs, os, ps) = (
            SharedPointer(q), SharedPointer(k), SharedPointer(v), SharedPointer(out), SharedPointer(packed)
        )
        // kᵀ in panels: panel p of head h holds feature c of key p · 16 + i at [c · 16 + i]; keys past the
        // end are zero (their scores are never read).
        parallelFor(kv.batch * panels, threads: threads, grain: 16) { range in
            for t in range {
                let (h, p) = (t / panels, t % panels)
                let dst = ps.base + h * headStride + p * panelWidth * e
                let src = ks.base + kv.offset + h * kv.batchStride
                for i in 0..<panelWidth {
                    let j = p * panelWidth + i
                    if j < keys {
                        let row = src + j * kv.rowStride
                        for c in 0..<e { dst[c * panelWidth + i] = row[c] }
                    } else {
                        for c in 0..<e { dst[c * panelWidth + i] = 0 }
                    }
                }
            }
        }
        let blocks = (rows + blockRows - 1) / blockRows
        parallelFor(qv.batch * blocks, threads: threads, grain: 1) { range in
            let s = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * padded + blockRows)
            defer { s.deallocate() }
            let inv = s + blockRows * padded
            for t in range {
                let (h, b) = (t / blocks, t % blocks)
                let r0 = b * blockRows
                let n = min(blockRows, rows - r0)
                let kb = h / group
                let blockKeep = visible(r0 + n - 1, keys: keys, causalOffset: causalOffset)
                let used = (blockKeep + panelWidth - 1) / panelWidth
                let qbase = UnsafePointer(qs.base + qv.offset + h * qv.batchStride + r0 * qv.rowStride)
                let kp = UnsafePointer(ps.base + kb * headStride)
                var i = 0
                while i < n {
                    for p in 0..<used {
                        scoreTile(
                            q: qbase + i * qv.rowStride, qStride: qv.rowStride, count: min(4, n - i),
                            panel: kp + p * panelWidth * e, e: e, s: s + i * padded + p * panelWidth, sStride: padded,
                            scale: scale)
                    }
                    i += 4
                }
                for i in 0..<n {
                    let keep = visible(r0 + i, keys: keys, causalOffset: causalOffset)
                    let row = s + i * padded
                    inv[i] = keep > 0 ? softmaxRow(row, keep) : 0
                    if keep < blockKeep { (row + keep).update(repeating: 0, count: blockKeep - keep) }
                }
                let vbase = UnsafePointer(vs.base + vv.offset + kb * vv.batchStride)
                let obase = os.base + ov.offset + h * ov.batchStride + r0 * ov.rowStride
                i = 0
                while i < n {
                    var c0 = 0
                    while c0 < ev {
                        valueTile(
                            p: s + i * padded, pStride: padded, count: min(4, n - i), v: vbase + c0,
                            vStride: vv.rowStride, keys: blockKeep, out: obase + i * ov.rowStride + c0,
                            oStride: ov.rowStride, inv: inv + i)
                        c0 += panelWidth
                    }
                    i += 4
                }
            }
        }
    }

    /// `blocked` by CKernels' hark_attention_block_avx512, one call per (head, block of rows); only when
    /// `vectorised` (the CPU runs AVX-512).
    static func blockedAVX512(
        q: UnsafePointer<Float>, _ qv: MatrixView, k: UnsafePointer<Float>, _ kv: MatrixView, v: UnsafePointer<Float>,
        _ vv: MatrixView, scale: Float, causalOffset: Int?, out: UnsafeMutablePointer<Float>, _ ov: MatrixView,
        threads: Int
    ) {
        let (rows, e, keys, ev) = (qv.rows, qv.cols, kv.rows, vv.cols)
        let group = qv.batch / kv.batch
        let panel = Int(HARK_ATTENTION_PANEL)
        let panels = (keys + panel - 1) / panel
        let headStride = hark_attention_packed_floats(keys, e)
        // 64-byte alignment: whole cache lines per key vector in the panels and per score row.
        let packed = UnsafeMutableRawPointer.allocate(byteCount: kv.batch * headStride * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: kv.batch * headStride)
        defer { packed.deallocate() }
        let (qs, ks, vs, os, ps) = (
            SharedPointer(q), SharedPointer(k), SharedPointer(v), SharedPointer(out), SharedPointer(packed)
        )
        parallelFor(kv.batch * panels, threads: threads, grain: 8) { range in
            for t in range {
                let (h, p) = (t / panels, t % panels)
                hark_attention_pack_keys(
                    ks.base + kv.offset + h * kv.batchStride, kv.rowStride, keys, e, p, 1, ps.base + h * headStride)
            }
        }
        let blockRows = Int(HARK_ATTENTION_BLOCK_ROWS)
        let blocks = (rows + blockRows - 1) / blockRows
        let scratchFloats = hark_attention_scratch_floats(keys, e)
        parallelFor(qv.batch * blocks, threads: threads, grain: 1) { range in
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchFloats * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: scratchFloats)
            defer { scratch.deallocate() }
            for t in range {
                let (h, b) = (t / blocks, t % blocks)
                let r0 = b * blockRows
                let kb = h / group
                hark_attention_block_avx512(
                    qs.base + qv.offset + h * qv.batchStride + r0 * qv.rowStride, qv.rowStride,
                    min(blockRows, rows - r0), e, ps.base + kb * headStride, keys,
                    vs.base + vv.offset + kb * vv.batchStride, vv.rowStride, ev, scale, causalOffset == nil ? 0 : 1,
                    r0 + (causalOffset ?? 0), os.base + ov.offset + h * ov.batchStride + r0 * ov.rowStride,
                    ov.rowStride, scratch)
            }
        }
    }

    /// Scores of up to 4 query rows against one panel of 16 keys, scaled, into s.
    @inline(__always)
    static func scoreTile(
        q: UnsafePointer<Float>, qStride: Int, count: Int, panel: UnsafePointer<Float>, e: Int,
        s: UnsafeMutablePointer<Float>, sStride: Int, scale: Float
    ) {
        // Missing rows repeat row 0 and are not stored: one code path for the tail.
        let q1 = count > 1 ? q + qStride : q
        let q2 = count > 2 ? q + 2 * qStride : q
        let q3 = count > 3 ? q + 3 * qStride : q
        var a00 = Lanes()
        var a01 = Lanes()
        var a10 = Lanes()
        var a11 = Lanes()
        var a20 = Lanes()
        var a21 = Lanes()
        var a30 = Lanes()
        var a31 = Lanes()
        let pr = UnsafeRawPointer(panel)
        for c in 0..<e {
            let k0 = pr.loadUnaligned(fromByteOffset: c * 64, as: Lanes.self)
            let k1 = pr.loadUnaligned(fromByteOffset: c * 64 + 32, as: Lanes.self)
            let b0 = Lanes(repeating: q[c])
            a00.addProduct(b0, k0)
            a01.addProduct(b0, k1)
            let b1 = Lanes(repeating: q1[c])
            a10.addProduct(b1, k0)
            a11.addProduct(b1, k1)
            let b2 = Lanes(repeating: q2[c])
            a20.addProduct(b2, k0)
            a21.addProduct(b2, k1)
            let b3 = Lanes(repeating: q3[c])
            a30.addProduct(b3, k0)
            a31.addProduct(b3, k1)
        }
        let sc = Lanes(repeating: scale)
        let sr = UnsafeMutableRawPointer(s)
        let rowBytes = sStride * 4
        sr.storeBytes(of: a00 * sc, toByteOffset: 0, as: Lanes.self)
        sr.storeBytes(of: a01 * sc, toByteOffset: 32, as: Lanes.self)
        if count > 1 {
            sr.storeBytes(of: a10 * sc, toByteOffset: rowBytes, as: Lanes.self)
            sr.storeBytes(of: a11 * sc, toByteOffset: rowBytes + 32, as: Lanes.self)
        }
        if count > 2 {
            sr.storeBytes(of: a20 * sc, toByteOffset: 2 * rowBytes, as: Lanes.self)
            sr.storeBytes(of: a21 * sc, toByteOffset: 2 * rowBytes + 32, as: Lanes.self)
        }
        if count > 3 {
            sr.storeBytes(of: a30 * sc, toByteOffset: 3 * rowBytes, as: Lanes.self)
            sr.storeBytes(of: a31 * sc, toByteOffset: 3 * rowBytes + 32, as: Lanes.self)
        }
    }

    /// out[i, 0..<16] = inv[i] · Σ_j p[i, j] · v[j, 0..<16] for up to 4 rows of probabilities.
    @inline(__always)
    static func valueTile(
        p: UnsafePointer<Float>, pStride: Int, count: Int, v: UnsafePointer<Float>, vStride: Int, keys: Int,
        out: UnsafeMutablePointer<Float>, oStride: Int, inv: UnsafePointer<Float>
    ) {
        let p1 = count > 1 ? p + pStride : p
        let p2 = count > 2 ? p + 2 * pStride : p
        let p3 = count > 3 ? p + 3 * pStride : p
        var a00 = Lanes()
        var a01 = Lanes()
        var a10 = Lanes()
        var a11 = Lanes()
        var a20 = Lanes()
        var a21 = Lanes()
        var a30 = Lanes()
        var a31 = Lanes()
        let vr = UnsafeRawPointer(v)
        for j in 0..<keys {
            let v0 = vr.loadUnaligned(fromByteOffset: j * vStride * 4, as: Lanes.self)
            let v1 = vr.loadUnaligned(fromByteOffset: j * vStride * 4 + 32, as: Lanes.self)
            let b0 = Lanes(repeating: p[j])
            a00.addProduct(b0, v0)
            a01.addProduct(b0, v1)
            let b1 = Lanes(repeating: p1[j])
            a10.addProduct(b1, v0)
            a11.addProduct(b1, v1)
            let b2 = Lanes(repeating: p2[j])
            a20.addProduct(b2, v0)
            a21.addProduct(b2, v1)
            let b3 = Lanes(repeating: p3[j])
            a30.addProduct(b3, v0)
            a31.addProduct(b3, v1)
        }
        let or = UnsafeMutableRawPointer(out)
        let rowBytes = oStride * 4
        let i0 = Lanes(repeating: inv[0])
        or.storeBytes(of: a00 * i0, toByteOffset: 0, as: Lanes.self)
        or.storeBytes(of: a01 * i0, toByteOffset: 32, as: Lanes.self)
        if count > 1 {
            let i1 = Lanes(repeating: inv[1])
            or.storeBytes(of: a10 * i1, toByteOffset: rowBytes, as: Lanes.self)
            or.storeBytes(of: a11 * i1, toByteOffset: rowBytes + 32, as: Lanes.self)
        }
        if count > 2 {
            let i2 = Lanes(repeating: inv[2])
            or.storeBytes(of: a20 * i2, toByteOffset: 2 * rowBytes, as: Lanes.self)
            or.storeBytes(of: a21 * i2, toByteOffset: 2 * rowBytes + 32, as: Lanes.self)
        }
        if count > 3 {
            let i3 = Lanes(repeating: inv[3])
            or.storeBytes(of: a30 * i3, toByteOffset: 3 * rowBytes, as: Lanes.self)
            or.storeBytes(of: a31 * i3, toByteOffset: 3 * rowBytes + 32, as: Lanes.self)
        }
    }
}
