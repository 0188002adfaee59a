import CKernels
import Tensors

/// conv1d on the CPU: im2col then one sgemm per group; a direct loop for depthwise convolutions
/// (groups == channels), where a GEMM per channel would be all overhead.
///
/// Shapes: x [cin, length], w [cout, cin/groups, kernel], y [cout, tout].
enum Conv1DKernel {
    /// The weight packed as the AVX-512 GEMM's A (`[cout, cin · kernel]`) for the time-tiled path, which runs one
    /// product per tile: nil where that path never runs.
    static func packedForm(of weight: Tensor, use: WeightUse) -> Tensor? {
        guard Gemm.avx512, case .conv1d(let p) = use, p.groups == 1, weight.dtype == .f32, weight.rank == 3,
            weight.shape[0] > 4
        else { return nil }
        let (m, k) = (weight.shape[0], weight.shape[1] * weight.shape[2])
        var packed = Tensor(zeros: [m * k])
        weight.withUnsafeFloats { w in
            packed.withUnsafeMutableFloats { out in
                hark_sgemm_pack_a(0, m, k, w.baseAddress!, k, out.baseAddress!)
            }
        }
        return packed
    }

    // MARK: - Winograd

    /// Whether Winograd F(4, r) beats im2col + GEMM for `tout` outputs: its products cover whole groups of 16
    /// blocks (4·d outputs each) per chunk, so on short inputs most of their columns are padding. It runs when the
    /// used share of those columns times its saving in multiply-adds (4r / (r + 3)) is at least 1.3. Measured
    /// (`hark-bench ops`, 2 threads): the text encoder's 192→768 kernel-3 FFN on 41 steps (37 % used, 0.75) took
    /// 0.17 ms against im2col's 0.11–0.13, on 80 steps (62 %, 1.25) the two were even, and conv_pre (192→256,
    /// kernel 7) on 86 steps (69 %, 1.9) took 0.093 ms against 0.164.
    static func winogradPays(tout: Int, dilation d: Int, kernel: Int, threads: Int) -> Bool {
        let blocks = (tout + 4 * d - 1) / (4 * d)
        let chunks = winogradChunks(blocks: blocks, dilation: d, threads: threads)
        let chunk = (blocks + chunks - 1) / chunks
        let used = Double(chunk) / Double((chunk + 15) / 16 * 16)
        return used * Double(4 * kernel) / Double(kernel + 3) >= 1.3
    }

    /// Chunks of at most `winogradBlocks` for `runWinograd`, a multiple of the thread count of them (fewer when
    /// there are fewer blocks).
    static func winogradChunks(blocks: Int, dilation d: Int, threads: Int) -> Int {
        let target = winogradBlocks(dilation: d)
        let rounds = max(1, (blocks + threads * target - 1) / (threads * target))
        return min(blocks, rounds * threads)
    }

    /// Blocks of 4·d outputs per Winograd call: about 192 tiles (four of the GEMM's 48-column panels) per point.
    static func winogradBlocks(dilation d: Int) -> Int { max(16, (192 / d) & ~15) }

    /// The weight transformed for `hark_winograd_conv1d` (stride 1, one group, at least 16 channels in and out,
    /// kernel 3, 5 or 7), or nil where it does not run. Measured on this machine's Zen 5 cores against the same
    /// conv through `tiled` (`hark-bench ops`, 2 threads): kernel 7 1.5–2×, kernel 5 1.3–1.6×, kernel 3 1.05–1.13×
    /// on 32 channels and 1.2–1.5× on 64–384.
    static func winogradForm(of weight: Tensor, use: WeightUse) -> Tensor? {
        guard Gemm.avx512, case .conv1d(let p) = use, p.stride == 1, p.groups == 1, weight.dtype == .f32,
            weight.rank == 3, weight.shape[0] >= 16, weight.shape[1] >= 16
        else { return nil }
        return winogradTransform(of: weight)
    }

    /// An f32 weight [cout, cin, kernel] transformed for F(4, kernel); nil for a kernel `hark_winograd_conv1d`
    /// does not take.
    static func winogradTransform(of weight: Tensor) -> Tensor? {
        let (cout, cin, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        let points = hark_winograd_points(Int32(kernel))
        guard points > 0 else { return nil }
        var u = Tensor(zeros: [points * cout * cin])
        weight.withUnsafeFloats { w in
            u.withUnsafeMutableFloats {
                hark_winograd_weights(w.baseAddress!, cout, cin, Int32(kernel), $0.baseAddress!)
            }
        }
        return u
    }

    static func runWinograd(
        x: UnsafePointer<Float>, cin: Int, length: Int, u: UnsafePointer<Float>, cout: Int, kernel: Int, bias: Tensor?,
        params p: Conv1DParams, inputSlope: Float?, residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        tout: Int, threads: Int
    ) {
        let d = p.dilation
        let blocks = (tout + 4 * d - 1) / (4 * d)
        let chunks = winogradChunks(blocks: blocks, dilation: d, threads: threads)
        let chunk = (blocks + chunks - 1) / chunks
        let b = bias?.toF32()
        let (xs, us, ys) = (SharedPointer(x), SharedPointer(u), SharedPointer(y))
        let rs = residual.map { SharedPointer($0) }
        let bs = b.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
        parallelFor(chunks, threads: threads, grain: 1) { range in
            for c in range {
                hark_winograd_conv1d(
                    xs.base, cin, length, us.base, cout, Int32(kernel), Int32(d), Int32(p.padLeft), tout,
                    inputSlope == nil ? 0 : 1, inputSlope ?? 1, bs?.base, rs?.base, ys.base, c * chunk,
                    min(blocks, (c + 1) * chunk))
            }
        }
        withExtendedLifetime(b) {}
    }

    /// y = conv(a(x)) + bias (+ residual), a(v) = v, or leaky ReLU with `inputSlope` (applied as x is read).
    /// `packed`: the weight in `packedForm`, or nil; `residual`: [cout, tout], or nil.
    static func run(
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, packed: UnsafePointer<Float>? = nil,
        winograd: UnsafePointer<Float>? = nil, cout: Int, kernel: Int, bias: Tensor?, params p: Conv1DParams,
        inputSlope: Float? = nil, residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>, tout: Int,
        threads: Int
    ) {
        if let winograd, p.stride == 1, p.groups == 1,
            winogradPays(tout: tout, dilation: p.dilation, kernel: kernel, threads: threads)
        {
            runWinograd(
                x: x, cin: cin, length: length, u: winograd, cout: cout, kernel: kernel, bias: bias, params: p,
                inputSlope: inputSlope, residual: residual, y: y, tout: tout, threads: threads)
            return
        }
        let g = p.groups
        let cinG = cin / g
        let coutG = cout / g
        let rowsK = cinG * kernel
        let biasValues = bias?.withUnsafeFloats { Array($0) }
        let pointwise = kernel == 1 && p.stride == 1 && p.padLeft == 0 && p.padRight == 0
        // (Not for the depthwise, few-output and pointwise cases below.)
        if Gemm.avx512 && coutG > 1 && !(coutG <= 4 && g == 1) && !pointwise && tout >= 48 * threads {
            // im2col in time tiles of about 512 KB, so the column buffer stays in cache between its write
            // and the GEMM that reads it.
            let tile = min(tout, max(256, (131_072 / rowsK) & ~63))
            tiled(
                x: x, cin: cin, length: length, w: w, packed: g == 1 ? packed : nil, bias: biasValues, cout: cout,
                kernel: kernel, params: p, inputSlope: inputSlope, residual: residual, y: y, tout: tout, tile: tile,
                threads: threads)
            return
        }
        if let inputSlope {
            // The paths below read x as it is: give them a(x).
            var activated = [Float](unsafeUninitializedCapacity: cin * length) { buffer, count in
                for i in 0..<(cin * length) {
                    let v = x[i]
                    buffer[i] = v >= 0 ? v : v * inputSlope
                }
                count = cin * length
            }
            activated.withUnsafeMutableBufferPointer { a in
                run(
                    x: a.baseAddress!, cin: cin, length: length, w: w, packed: packed, cout: cout, kernel: kernel,
                    bias: bias, params: p, residual: residual, y: y, tout: tout, threads: threads)
            }
            return
        }
        // Start from the bias (or zero), plus the residual, and let the GEMM accumulate into it.
        for c in 0..<cout {
            let row = y + c * tout
            let b = biasValues?[c] ?? 0
            if let residual {
                let r = residual + c * tout
                for t in 0..<tout { row[t] = r[t] + b }
            } else {
                row.update(repeating: b, count: tout)
            }
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
        if pointwise {
            for group in 0..<g {
                Gemm.multiply(
                    m: coutG, n: tout, k: rowsK, a: w + group * coutG * rowsK, lda: rowsK, b: x + group * cinG * length,
                    ldb: length, beta: 1, c: y + group * coutG * tout, ldc: tout, threads: threads)
            }
            return
        }
        let tile = min(tout, max(256, (131_072 / rowsK) & ~63))
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
        x: UnsafePointer<Float>, cin: Int, length: Int, w: UnsafePointer<Float>, packed: UnsafePointer<Float>?,
        bias: [Float]?, cout: Int, kernel: Int, params p: Conv1DParams, inputSlope: Float?,
        residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, tout: Int, tile: Int, threads: Int
    ) {
        let g = p.groups
        let (cinG, coutG) = (cin / g, cout / g)
        let rowsK = cinG * kernel
        let perGroup = (tout + tile - 1) / tile
        let tiles = ((max(perGroup * g, threads) + threads - 1) / threads) * threads
        let tilesPerGroup = (tiles + g - 1) / g
        let width = (tout + tilesPerGroup - 1) / tilesPerGroup
        let (xs, ws, ys) = (SharedPointer(x), SharedPointer(w), SharedPointer(y))
        let packedW = packed.map { SharedPointer($0) }
        let residualP = residual.map { SharedPointer($0) }
        parallelFor(g * tilesPerGroup, threads: threads, grain: 1) { range in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: rowsK * width)
            defer { col.deallocate() }
            for item in range {
                let group = item / tilesPerGroup
                let t0 = (item % tilesPerGroup) * width
                guard t0 < tout else { continue }
                let n = min(width, tout - t0)
                // The tile's outputs start from the bias (plus the residual); the product accumulates into them.
                for c in 0..<coutG {
                    let offset = (group * coutG + c) * tout + t0
                    let b = bias?[group * coutG + c] ?? 0
                    if let residualP {
                        let (row, r) = (ys.base + offset, residualP.base + offset)
                        for t in 0..<n { row[t] = r[t] + b }
                    } else {
                        (ys.base + offset).update(repeating: b, count: n)
                    }
                }
                im2col(
                    x: xs.base + group * cinG * length, channels: cinG, length: length, kernel: kernel, params: p,
                    inputSlope: inputSlope, col: col, t0: t0, width: n, threads: 1)
                if let packedW {
                    hark_sgemm_avx512_packed(coutG, n, rowsK, 1, packedW.base, 0, col, n, 1, ys.base + t0, tout)
                    continue
                }
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

    /// col[(c · kernel + k), t] = a(x[c, (t0 + t) · stride + k · dilation − padLeft]) for t < width (zero
    /// outside the input), a the leaky ReLU with `inputSlope` if given (it maps 0 to 0, so padding stays 0).
    static func im2col(
        x: UnsafePointer<Float>, channels: Int, length: Int, kernel: Int, params p: Conv1DParams,
        inputSlope: Float? = nil, col: UnsafeMutablePointer<Float>, t0: Int, width tout: Int, threads: Int
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
                    if hi > lo {
                        if let slope = inputSlope {
                            let from = src + lo + shift
                            let to = dst + lo
                            for t in 0..<(hi - lo) {
                                let v = from[t]
                                to[t] = v >= 0 ? v : v * slope
                            }
                        } else {
                            (dst + lo).update(from: src + lo + shift, count: hi - lo)
                        }
                    }
                    if tout > hi { (dst + hi).update(repeating: 0, count: tout - hi) }
                } else {
                    for t in 0..<tout {
                        let i = t * p.stride + shift
                        let v = i >= 0 && i < length ? src[i] : 0
                        dst[t] = inputSlope.map { v >= 0 ? v : v * $0 } ?? v
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
/// product, then col2im adds them into place; or, with the AVX-512 kernel and one group, the polyphase form below.
///
/// Shapes: x [cin, length], w [cin, cout/groups, kernel], y [cout, tout].
enum ConvTranspose1DKernel {
    /// Whether the CPU runs `p` in polyphase form (and so prepares its weight that way).
    static func polyphase(_ p: ConvTranspose1DParams) -> Bool {
        Gemm.avx512 && p.groups == 1 && p.dilation == 1 && p.stride > 1
    }

    /// The polyphase weight of a stride-s transposed conv: output j + padding = u·s + r takes x[·, u − a] with
    /// tap a·s + r, so phase r is an ordinary conv over x with Q = ⌈kernel / s⌉ taps (reversed). Rows (o, r) of
    /// w′[cout·s, cin, Q] hold w[c, o, (Q − 1 − q)·s + r], zero past the kernel.
    static func polyphaseWeight(_ w: UnsafePointer<Float>, cin: Int, cout: Int, kernel: Int, stride s: Int) -> [Float] {
        let q = (kernel + s - 1) / s
        var out = [Float](repeating: 0, count: s * cout * cin * q)
        for r in 0..<s {
            for o in 0..<cout {
                for c in 0..<cin {
                    for t in 0..<q {
                        let tap = (q - 1 - t) * s + r
                        if tap < kernel { out[((o * s + r) * cin + c) * q + t] = w[(c * cout + o) * kernel + tap] }
                    }
                }
            }
        }
        return out
    }

    /// y from the polyphase weight `wp` [cout·s, cin·Q]: per thread, whole tiles of u (one step of every phase):
    /// im2col of x for the tile, one product z[cout·s, tile] = w′ · col, then the s rows of each output channel
    /// interleaved into it: z[o·s + r, t] + bias goes to y[o, (u0 + t)·s + r − padding]. Every output sample comes
    /// from exactly one (u, r), so the tiles write disjoint samples and nothing is added after the product; the
    /// buffers stay in cache.
    static func runPolyphase(
        x: UnsafePointer<Float>, cin: Int, length: Int, wp: UnsafePointer<Float>, cout: Int, kernel: Int,
        bias: Tensor?, params p: ConvTranspose1DParams, y: UnsafeMutablePointer<Float>, tout: Int, threads: Int
    ) {
        let s = p.stride
        let q = (kernel + s - 1) / s
        let rows = s * cout
        let depth = cin * q
        let steps = (tout + p.padding + s - 1) / s
        let biasValues = bias?.withUnsafeFloats { Array($0) }
        // About 1 MB of column and product buffers per thread, in whole 16-step groups.
        let fitting = max(16, ((262_144 / (depth + rows)) / 16) * 16)
        let width = min(fitting, max(16, (steps + threads - 1) / threads))
        let tiles = (steps + width - 1) / width
        let convParams = Conv1DParams(stride: 1, dilation: 1, padLeft: q - 1, padRight: q - 1, groups: 1)
        let (xs, ws, ys) = (SharedPointer(x), SharedPointer(wp), SharedPointer(y))
        parallelFor(tiles, threads: threads, grain: 1) { range in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: depth * width)
            let z = UnsafeMutablePointer<Float>.allocate(capacity: rows * width)
            let edge = UnsafeMutablePointer<Float>.allocate(capacity: s * width)
            defer {
                col.deallocate()
                z.deallocate()
                edge.deallocate()
            }
            for tile in range {
                let u0 = tile * width
                let n = min(width, steps - u0)
                Conv1DKernel.im2col(
                    x: xs.base, channels: cin, length: length, kernel: q, params: convParams, col: col, t0: u0,
                    width: n, threads: 1)
                Gemm.kernel(
                    transposeA: false, transposeB: false, m: rows, n: n, k: depth, alpha: 1, a: ws.base, lda: depth,
                    b: col, ldb: n, beta: 0, c: z, ldc: n, threads: 1)
                // Samples start..<start + n·s of each output row; only the first and last tiles reach past y.
                let start = u0 * s - p.padding
                let (lo, hi) = (max(0, start), min(tout, start + n * s))
                for o in 0..<cout where hi > lo {
                    let b = biasValues?[o] ?? 0
                    if lo == start && hi == start + n * s {
                        hark_interleave(z + o * s * n, s, n, n, b, ys.base + o * tout + start)
                    } else {
                        hark_interleave(z + o * s * n, s, n, n, b, edge)
                        (ys.base + o * tout + lo).update(from: edge + (lo - start), count: hi - lo)
                    }
                }
            }
        }
    }

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
