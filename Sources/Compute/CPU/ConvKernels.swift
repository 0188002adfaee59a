import Tensors

/// conv1d on the CPU: im2col then one sgemm per group; a direct loop for depthwise convolutions
/// (groups == channels), where a GEMM per channel would be all overhead.
///
/// Shapes: x [cin, length], w [cout, cin/groups, kernel], y [cout, tout].
enum Conv1DKernel {
    static func run(
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, cout: Int, kernel: Int,
        bias: Tensor?, params p: Conv1DParams, y: UnsafeMutablePointer<Float>, tout: Int, threads: Int
    ) {
        let g = p.groups
        let cinG = cin / g
        let coutG = cout / g
        // Start from the bias (or zero) and let the GEMM accumulate into it.
        for c in 0..<cout {
            (y + c * tout).update(repeating: bias?.withUnsafeFloats { $0[c] } ?? 0, count: tout)
        }
        if cinG == 1 && coutG == 1 {
            depthwise(
                x: x, length: length, w: w, channels: cout, kernel: kernel, params: p, y: y, tout: tout,
                threads: threads)
            return
        }
        if coutG <= 4 && g == 1 {
            direct(
                x: x, cin: cin, length: length, w: w, cout: cout, kernel: kernel, params: p, y: y, tout: tout,
                threads: threads)
            return
        }
        let rowsK = cinG * kernel
        if kernel == 1 && p.stride == 1 && p.padLeft == 0 && p.padRight == 0 {
            for group in 0..<g {
                Gemm.multiply(
                    m: coutG, n: tout, k: rowsK, a: w + group * coutG * rowsK, lda: rowsK, b: x + group * cinG * length,
                    ldb: length, beta: 1, c: y + group * coutG * tout, ldc: tout, threads: threads)
            }
            return
        }
        // im2col in time tiles of about 512 KB, so the column buffer stays in cache between its write
        // and the GEMM that reads it.
        let tile = min(tout, max(256, (131_072 / rowsK) & ~63))
        if Gemm.avx512 && coutG > 1 && tout >= 48 * threads {
            tiled(
                x: x, cin: cin, length: length, w: w, cout: cout, kernel: kernel, params: p, y: y, tout: tout,
                tile: tile, threads: threads)
            return
        }
        var columns = [Float](repeating: 0, count: rowsK * tile)
        columns.withUnsafeMutableBufferPointer { col in
            for group in 0..<g {
                let xg = x + group * cinG * length
                for t0 in stride(from: 0, to: tout, by: tile) {
                    let width = min(tile, tout - t0)
                    im2col(
                        x: xg, channels: cinG, length: length, kernel: kernel, params: p, col: col.baseAddress!,
                        t0: t0, width: width, threads: threads)
                    Gemm.multiply(
                        m: coutG, n: width, k: rowsK, a: w + group * coutG * rowsK, lda: rowsK, b: col.baseAddress!,
                        ldb: width, beta: 1, c: y + group * coutG * tout + t0, ldc: tout, threads: threads)
                }
            }
        }
    }

    /// im2col + GEMM with each thread on whole time tiles of its own: its column buffer is written and read by
    /// one core, and the threads meet once per call rather than twice per tile (under load each meeting cost
    /// more than a small tile's product). Only for the AVX-512 kernel, which runs single-threaded on any thread;
    /// at least `threads` tiles of at most `tile` steps each, as equal as they come.
    static func tiled(
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, cout: Int, kernel: Int,
        params p: Conv1DParams, y: UnsafeMutablePointer<Float>, tout: Int, tile: Int, threads: Int
    ) {
        let g = p.groups
        let (cinG, coutG) = (cin / g, cout / g)
        let rowsK = cinG * kernel
        let perGroup = (tout + tile - 1) / tile
        let tiles = ((max(perGroup * g, threads) + threads - 1) / threads) * threads
        let tilesPerGroup = (tiles + g - 1) / g
        let width = (tout + tilesPerGroup - 1) / tilesPerGroup
        let (xs, ws, ys) = (SharedPointer(x), SharedPointer(w), SharedPointer(y))
        parallelFor(g * tilesPerGroup, threads: threads, grain: 1) { range in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: rowsK * width)
            defer { col.deallocate() }
            for item in range {
                let group = item / tilesPerGroup
                let t0 = (item % tilesPerGroup) * width
                guard t0 < tout else { continue }
                let n = min(width, tout - t0)
                im2col(
                    x: xs.base + group * cinG * length, channels: cinG, length: length, kernel: kernel, params: p,
                    col: col, t0: t0, width: n, threads: 1)
                Gemm.kernel(
                    transposeA: false, transposeB: false, m: coutG, n: n, k: rowsK, alpha: 1,
                    a: ws.base + group * coutG * rowsK, lda: rowsK, b: col, ldb: n, beta: 1,
                    c: ys.base + group * coutG * tout + t0, ldc: tout, threads: 1)
            }
        }
    }

    /// Few output channels (HiFi-GAN's conv_post): a GEMM would have one row, so accumulate
    /// y[o, t] += w[o, c, k] · x[c, t · stride + k · dilation − padLeft] directly, split over time.
    static func direct(
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, cout: Int, kernel: Int,
        params p: Conv1DParams, y: UnsafeMutablePointer<Float>, tout: Int, threads: Int
    ) {
        let xs = SharedPointer(x)
        let ws = SharedPointer(w)
        let ys = SharedPointer(y)
        parallelFor(tout, threads: threads, grain: 4096) { range in
            for o in 0..<cout {
                let dst = ys.base + o * tout
                for c in 0..<cin {
                    let src = xs.base + c * length
                    for k in 0..<kernel {
                        let wk = ws.base[(o * cin + c) * kernel + k]
                        let shift = k * p.dilation - p.padLeft
                        if p.stride == 1 {
                            let lo = max(range.lowerBound, -shift)
                            let hi = min(range.upperBound, length - shift)
                            if hi > lo { for t in lo..<hi { dst[t] += wk * src[t + shift] } }
                        } else {
                            for t in range {
                                let i = t * p.stride + shift
                                if i >= 0 && i < length { dst[t] += wk * src[i] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// col[(c · kernel + k), t] = x[c, (t0 + t) · stride + k · dilation − padLeft] for t < width (zero
    /// outside the input).
    static func im2col(
        x: UnsafePointer<Float>, channels: Int, length: Int, kernel: Int, params p: Conv1DParams,
        col: UnsafeMutablePointer<Float>, t0: Int, width tout: Int, threads: Int
    ) {
        let xs = SharedPointer(x)
        let cs = SharedPointer(col)
        parallelFor(channels * kernel, threads: threads, grain: max(1, 16384 / max(tout, 1))) { range in
            for row in range {
                let c = row / kernel
                let k = row % kernel
                let dst = cs.base + row * tout
                let src = xs.base + c * length
                let shift = t0 * p.stride + k * p.dilation - p.padLeft
                if p.stride == 1 {
                    // Valid t: 0 ≤ t + shift < length.
                    let lo = min(tout, max(0, -shift))
                    let hi = max(lo, min(tout, length - shift))
                    if lo > 0 { dst.update(repeating: 0, count: lo) }
                    if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                    if tout > hi { (dst + hi).update(repeating: 0, count: tout - hi) }
                } else {
                    for t in 0..<tout {
                        let i = t * p.stride + shift
                        dst[t] = i >= 0 && i < length ? src[i] : 0
                    }
                }
            }
        }
    }

    /// One filter per channel: y[c, t] += Σ_k w[c, 0, k] · x[c, t · stride + k · dilation − padLeft].
    static func depthwise(
        x: UnsafePointer<Float>, length: Int, w: UnsafePointer<Float>, channels: Int, kernel: Int,
        params p: Conv1DParams, y: UnsafeMutablePointer<Float>, tout: Int, threads: Int
    ) {
        let xs = SharedPointer(x)
        let ws = SharedPointer(w)
        let ys = SharedPointer(y)
        parallelFor(channels, threads: threads, grain: max(1, 8192 / max(tout * kernel, 1))) { range in
            for c in range {
                let src = xs.base + c * length
                let dst = ys.base + c * tout
                for k in 0..<kernel {
                    let wk = ws.base[c * kernel + k]
                    let shift = k * p.dilation - p.padLeft
                    for t in 0..<tout {
                        let i = t * p.stride + shift
                        if i >= 0 && i < length { dst[t] += wk * src[i] }
                    }
                }
            }
        }
    }
}

/// conv-transpose1d on the CPU: one sgemm per group gives every (output channel, tap, input step)
/// product, then col2im adds them into place.
///
/// Shapes: x [cin, length], w [cin, cout/groups, kernel], y [cout, tout].
enum ConvTranspose1DKernel {
    static func run(
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, coutPerGroup: Int, kernel: Int,
        bias: Tensor?, params p: ConvTranspose1DParams, y: UnsafeMutablePointer<Float>, tout: Int, threads: Int
    ) {
        let g = p.groups
        let cinG = cin / g
        let rows = coutPerGroup * kernel
        let cout = coutPerGroup * g
        for c in 0..<cout {
            (y + c * tout).update(repeating: bias?.withUnsafeFloats { $0[c] } ?? 0, count: tout)
        }
        var columns = [Float](repeating: 0, count: rows * length)
        columns.withUnsafeMutableBufferPointer { colBuffer in
            let col = colBuffer.baseAddress!
            for group in 0..<g {
                // col[rows, length] = w_gᵀ[rows, cinG] · x_g[cinG, length]
                Gemm.multiply(
                    transposeA: true, m: rows, n: length, k: cinG, a: w + group * cinG * rows, lda: rows,
                    b: x + group * cinG * length, ldb: length, beta: 0, c: col, ldc: length, threads: threads)
                let cs = SharedPointer(col)
                let ys = SharedPointer(y + group * coutPerGroup * tout)
                parallelFor(coutPerGroup, threads: threads, grain: max(1, 16384 / max(kernel * length, 1))) { range in
                    for c in range {
                        let dst = ys.base + c * tout
                        for k in 0..<kernel {
                            let src = cs.base + (c * kernel + k) * length
                            let shift = k * p.dilation - p.padding
                            for t in 0..<length {
                                let o = t * p.stride + shift
                                if o >= 0 && o < tout { dst[o] += src[t] }
                            }
                        }
                    }
                }
            }
        }
    }
}
