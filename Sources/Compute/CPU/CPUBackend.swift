import COpenBLAS
import Foundation
import Synchronization
import Tensors

#if canImport(Glibc)
    import Glibc
#endif

/// The CPU backend: runs every op, and is the one every other backend falls back to.
///
/// Heavy products (linear, matmul, the GEMM inside conv1d and conv-transpose1d) go to `Gemm` (Hark's
/// AVX-512 kernel where the CPU has it, OpenBLAS's sgemm otherwise) or OpenBLAS's sgemv; everything else is
/// plain Swift loops the compiler vectorises, split over `threads` cores. Weights are converted to f32 once, at `prepare`, except q4_0 / q4_1 / q8_0 / q4_K / q6_K ones,
/// which stay in their blocks for fused dequant-dot kernels (`QuantizedMatrix`, `KQuantMatrix`).
public struct CPUBackend: Backend {
    public let name = "cpu"
    /// Worker threads for Hark's own kernels, the AVX-512 GEMM included (OpenBLAS keeps its own pool).
    public let threads: Int

    /// - Parameter threads: cores to use; nil uses every active core. OpenBLAS's thread count is
    ///   process-wide, so only the first count a process asks for is set (see `blasThreads`): one thread when
    ///   Hark's AVX-512 GEMM does the large products (OpenBLAS then only sees single rows and narrow products,
    ///   and its idle pool spun in sched_yield against Hark's threads: `transcribe` of the dev clips took 4-5 %
    ///   longer, with three times the system time), else an explicit count (a user's `-t`); a default backend on
    ///   a CPU without AVX-512, or `OPENBLAS_NUM_THREADS` in the environment, leaves it as OpenBLAS found it.
    public init(threads: Int? = nil) {
        let n = threads ?? System.activeProcessorCount
        self.threads = max(1, n)
        let blas = Gemm.avx512 && getenv("OPENBLAS_NUM_THREADS") == nil ? 1 : threads.map { _ in self.threads }
        if let blas {
            let count = Int32(blas)
            CPUBackend.blasThreads.withLock { chosen in
                guard chosen == nil else { return }
                chosen = count
                openblas_set_num_threads(count)
            }
        }
        System.keepLargeAllocations()
    }

    /// The OpenBLAS pool size this process chose. Resizing the pool while another thread is inside a BLAS
    /// call can crash OpenBLAS 0.3.21 (seen as a segfault when parallel tests built backends of different
    /// sizes), so the first explicit count stays; later backends still size their own kernels' threads.
    private static let blasThreads = Mutex<Int32?>(nil)

    public func supports(_ op: Op) -> Bool {
        switch op {
        case .linear(_, _, _, let w):
            return CPUBackend.convertible(w) || Quantization.supports(w)
        case .conv1d(_, _, _, _, _, let w), .convTranspose1d(_, _, _, _, _, let w):
            return CPUBackend.convertible(w)
        case .embedding(_, _, _, let t):
            return CPUBackend.convertible(t) || Quantization.supports(t)
        default:
            return true
        }
    }

    /// The CPU's weight re-laid for its AVX-512 kernels, kept beside its `prepare` form (`cpuForm`): conv1d weights
    /// packed as the GEMM's A, q4 linear weights in row groups. Nil where no such kernel runs.
    static func packedForm(of cpuForm: Tensor, use: WeightUse) -> Tensor? {
        Conv1DKernel.packedForm(of: cpuForm, use: use) ?? QuantizedMatrix.packedForm(of: cpuForm, use: use)
    }

    /// Weight element types this backend converts to f32 at load.
    static func convertible(_ t: DType) -> Bool { t == .f32 || t == .f16 || t == .bf16 }

    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        if Quantization.supports(weight.dtype) {
            // Kept in their blocks: linear reads them with fused dequant-dot kernels, embedding dequantizes
            // the rows it looks up.
            switch use {
            case .embedding:
                guard weight.rank == 2, weight.shape[1] % weight.dtype.blockSize == 0 else {
                    throw .shape(
                        "a \(weight.dtype) embedding table must be [vocab, dim], dim whole blocks: \(weight.shape)")
                }
                return weight
            case .linear:
                guard weight.rank == 2, weight.shape[1] % weight.dtype.blockSize == 0 else {
                    throw .shape("a \(weight.dtype) linear weight must be [out, in], in whole blocks: \(weight.shape)")
                }
                return weight
            case .conv1d, .convTranspose1d:
                throw ComputeError(
                    .unsupported, "the CPU backend has no convolution kernels for \(weight.dtype) weights")
            }
        }
        guard CPUBackend.convertible(weight.dtype) else {
            throw ComputeError(.unsupported, "the CPU backend has no kernels for \(weight.dtype) weights yet")
        }
        switch use {
        case .embedding:
            return weight  // rows are converted as they are looked up
        case .linear:
            guard weight.rank == 2 else { throw .shape("a linear weight must be [out, in], got \(weight.shape)") }
            return weight.toF32()
        case .conv1d:
            guard weight.rank == 3 else { throw .shape("a conv1d weight must be rank 3, got \(weight.shape)") }
            return weight.toF32()
        case .convTranspose1d(let p):
            guard weight.rank == 3 else { throw .shape("a conv1d weight must be rank 3, got \(weight.shape)") }
            let w = weight.toF32()
            guard ConvTranspose1DKernel.polyphase(p) else { return w }
            let (cin, cout, kernel) = (w.shape[0], w.shape[1], w.shape[2])
            let q = (kernel + p.stride - 1) / p.stride
            let phases = w.withUnsafeFloats { wp in
                ConvTranspose1DKernel.polyphaseWeight(
                    wp.baseAddress!, cin: cin, cout: cout, kernel: kernel, stride: p.stride)
            }
            return Tensor(shape: [p.stride * cout, cin, q], floats: phases)
        }
    }

    // MARK: - Products

    /// The rows m of x for y = x · Wᵀ (+ bias) with W [n, k], after checking x, y and the bias against W.
    static func checkLinear(_ x: Tensor, n: Int, k: Int, bias: Tensor?, y: Tensor) throws(ComputeError) -> Int {
        guard x.count % k == 0, x.shape.last == k else {
            throw .shape("linear: input \(x.shape) does not end in \(k)")
        }
        let m = x.count / k
        guard y.count == m * n else { throw .shape("linear: output \(y.shape) is not [\(m), \(n)]") }
        if let bias, bias.count != n { throw .shape("linear: bias \(bias.shape) is not [\(n)]") }
        return m
    }

    public func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        let w = weight.cpu
        let n = w.shape[0]
        let k = w.shape[1]
        let m = try Self.checkLinear(x, n: n, k: k, bias: bias, y: y)
        if Quantization.supports(w.dtype) {
            let threads = threads
            x.withUnsafeFloats { xp in
                w.withUnsafeBytes { wp in
                    y.withUnsafeMutableFloats { yp in
                        if KQuantization.supports(w.dtype) {
                            KQuantMatrix.run(
                                w: wp.baseAddress!, dtype: w.dtype, rows: n, cols: k, x: xp.baseAddress!, count: m,
                                bias: bias, y: yp.baseAddress!, threads: threads)
                        } else {
                            let packed = weight.use == .linear ? weight.packed : nil
                            packed.withUnsafeBytesIfPresent { packed in
                                QuantizedMatrix.run(
                                    w: wp.baseAddress!, packed: packed, dtype: w.dtype, rows: n, cols: k,
                                    x: xp.baseAddress!, count: m, bias: bias, y: yp.baseAddress!, threads: threads)
                            }
                        }
                    }
                }
            }
            return
        }
        if m <= 4, let half = weight.compact, half.dtype == .f16 {
            // Decoding: bound by reading the weight, so read it in f16.
            let threads = threads
            let b = bias?.toF32()
            x.withUnsafeFloats { xp in
                half.withUnsafeBytes { wp in
                    y.withUnsafeMutableFloats { yp in
                        HalfMatrixVector.run(
                            w: wp.baseAddress!.assumingMemoryBound(to: Float16.self), rows: n, cols: k,
                            x: xp.baseAddress!, count: m, bias: b, y: yp.baseAddress!, threads: threads)
                    }
                }
            }
            return
        }
        x.withUnsafeFloats { xp in
            w.withUnsafeFloats { wp in
                y.withUnsafeMutableFloats { yp in
                    let beta: Float = bias == nil ? 0 : 1
                    if let bias {
                        bias.toF32().withUnsafeFloats { bp in
                            for r in 0..<m { (yp.baseAddress! + r * n).update(from: bp.baseAddress!, count: n) }
                        }
                    }
                    if m == 1 {
                        cblas_sgemv(
                            CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, wp.baseAddress, Int32(k),
                            xp.baseAddress, 1, beta, yp.baseAddress, 1)
                    } else {
                        Gemm.multiply(
                            transposeB: true, m: m, n: n, k: k, a: xp.baseAddress!, lda: k, b: wp.baseAddress!, ldb: k,
                            beta: beta, c: yp.baseAddress!, ldc: n, threads: threads)
                    }
                }
            }
        }
    }

    public func matmul(
        _ a: Tensor, _ av: MatrixView, _ b: Tensor, _ bv: MatrixView, transposeB: Bool, alpha: Float, beta: Float,
        into c: inout Tensor, _ cv: MatrixView
    ) throws(ComputeError) {
        try MatmulShape.check(av, bv, transposeB: transposeB, cv, counts: (a.count, b.count, c.count))
        let group = av.batch / bv.batch
        let m = av.rows
        let k = av.cols
        let n = cv.cols
        a.withUnsafeFloats { ap in
            b.withUnsafeFloats { bp in
                c.withUnsafeMutableFloats { cp in
                    for i in 0..<av.batch {
                        let pa = ap.baseAddress! + av.offset + i * av.batchStride
                        let pb = bp.baseAddress! + bv.offset + (i / group) * bv.batchStride
                        let pc = cp.baseAddress! + cv.offset + i * cv.batchStride
                        Gemm.multiply(
                            transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: pa, lda: av.rowStride, b: pb,
                            ldb: bv.rowStride, beta: beta, c: pc, ldc: cv.rowStride, threads: threads)
                    }
                }
            }
        }
    }

    public func attention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int?, into out: inout Tensor, _ ov: MatrixView
    ) throws(ComputeError) {
        try AttentionShape.check(qv, kv, vv, ov, counts: (q.count, k.count, v.count, out.count))
        let threads = threads
        if k.dtype == .f16 && v.dtype == .f16 && qv.rows < AttentionKernels.packedFrom {
            q.withUnsafeFloats { qp in
                k.withUnsafeBytes { kp in
                    v.withUnsafeBytes { vp in
                        out.withUnsafeMutableFloats { op in
                            AttentionKernels.rowwise(
                                q: qp.baseAddress!, qv, k: kp.baseAddress!, kv, v: vp.baseAddress!, vv, half: true,
                                scale: scale, causalOffset: causalOffset, out: op.baseAddress!, ov, threads: threads)
                        }
                    }
                }
            }
            return
        }
        guard k.dtype == .f32 && v.dtype == .f32 else {
            // Half-precision keys and values for many rows: the part the views reach widened once (not a whole
            // cache's capacity), then the tiled kernel.
            return try attention(
                q, qv, k.widenedPrefix(kv), kv, v.widenedPrefix(vv), vv, scale: scale, causalOffset: causalOffset,
                into: &out, ov)
        }
        q.withUnsafeFloats { qp in
            k.withUnsafeFloats { kp in
                v.withUnsafeFloats { vp in
                    out.withUnsafeMutableFloats { op in
                        AttentionKernels.run(
                            q: qp.baseAddress!, qv, k: kp.baseAddress!, kv, v: vp.baseAddress!, vv, scale: scale,
                            causalOffset: causalOffset, out: op.baseAddress!, ov, threads: threads)
                    }
                }
            }
        }
    }

    // MARK: - Convolutions

    public func conv1d(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: Conv1DParams, into y: inout Tensor)
        throws(ComputeError)
    {
        try conv1d(x, weight: weight, bias: bias, params: p, inputSlope: nil, residual: nil, into: &y)
    }

    /// y = conv(a(x)) + bias (+ residual), a the leaky ReLU with `inputSlope` if given: the activation applied as
    /// the kernel copies x, the product accumulated onto the residual (`ComputeEngine.conv1d(…inputSlope:…)`).
    func conv1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: Conv1DParams, inputSlope: Float?,
        residual: Tensor?, into y: inout Tensor
    ) throws(ComputeError) {
        let w = weight.cpu
        let (cout, cinPerGroup, kernel) = (w.shape[0], w.shape[1], w.shape[2])
        guard x.rank == 2, p.groups >= 1, cout % p.groups == 0 else {
            throw .shape("conv1d: input must be [channels, time], got \(x.shape)")
        }
        let (cin, length) = (x.shape[0], x.shape[1])
        let tout = p.outputLength(input: length, kernel: kernel)
        guard cin == cinPerGroup * p.groups, tout > 0, y.shape == [cout, tout] else {
            throw .shape("conv1d: \(x.shape) with weight \(w.shape) gives [\(cout), \(tout)], output is \(y.shape)")
        }
        if let bias, bias.count != cout { throw .shape("conv1d: bias \(bias.shape) is not [\(cout)]") }
        if let residual, residual.shape != [cout, tout] {
            throw .shape("conv1d: residual \(residual.shape) is not [\(cout), \(tout)]")
        }
        let threads = threads
        let residualF32 = residual?.toF32()
        x.withUnsafeFloats { xp in
            w.withUnsafeFloats { wp in
                y.withUnsafeMutableFloats { yp in
                    let sameUse = weight.use == .conv1d(p)
                    let (packed, winograd) = (sameUse ? weight.packed : nil, sameUse ? weight.winograd : nil)
                    packed.withUnsafeFloatsIfPresent { packedW in
                        winograd.withUnsafeFloatsIfPresent { winogradW in
                            residualF32.withUnsafeFloatsIfPresent { residualP in
                                Conv1DKernel.run(
                                    x: xp.baseAddress!, cin: cin, length: length, w: wp.baseAddress!, packed: packedW,
                                    winograd: winogradW, cout: cout, kernel: kernel, bias: bias?.toF32(), params: p,
                                    inputSlope: inputSlope, residual: residualP, y: yp.baseAddress!, tout: tout,
                                    threads: threads)
                            }
                        }
                    }
                }
            }
        }
    }

    public func convTranspose1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError) {
        let w = weight.cpu
        // The PyTorch shape; the CPU's form may be the polyphase one (prepared for these params).
        let (cin, coutPerGroup, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        let polyphase = w.shape != weight.shape
        guard !polyphase || weight.use == .convTranspose1d(p) else {
            throw .shape("conv_transpose1d: the weight was prepared for \(weight.use), not \(p)")
        }
        guard x.rank == 2, x.shape[0] == cin, p.groups >= 1, cin % p.groups == 0 else {
            throw .shape("conv_transpose1d: input \(x.shape) does not match weight \(w.shape)")
        }
        let length = x.shape[1]
        let cout = coutPerGroup * p.groups
        let tout = p.outputLength(input: length, kernel: kernel)
        guard tout > 0, y.shape == [cout, tout] else {
            throw .shape("conv_transpose1d: \(x.shape) gives [\(cout), \(tout)], output is \(y.shape)")
        }
        if let bias, bias.count != cout { throw .shape("conv_transpose1d: bias \(bias.shape) is not [\(cout)]") }
        let threads = threads
        x.withUnsafeFloats { xp in
            w.withUnsafeFloats { wp in
                y.withUnsafeMutableFloats { yp in
                    if polyphase {
                        ConvTranspose1DKernel.runPolyphase(
                            x: xp.baseAddress!, cin: cin, length: length, wp: wp.baseAddress!, cout: cout,
                            kernel: kernel, bias: bias?.toF32(), params: p, y: yp.baseAddress!, tout: tout,
                            threads: threads)
                        return
                    }
                    ConvTranspose1DKernel.run(
                        x: xp.baseAddress!, cin: cin, length: length, w: wp.baseAddress!, coutPerGroup: coutPerGroup,
                        kernel: kernel, bias: bias?.toF32(), params: p, y: yp.baseAddress!, tout: tout,
                        threads: threads)
                }
            }
        }
    }

    // MARK: - Normalisation and the rest

    public func layerNorm(_ x: inout Tensor, axis: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float)
        throws(ComputeError)
    {
        guard axis >= 0, axis < x.rank else { throw .shape("layer_norm: axis \(axis) of \(x.shape)") }
        let n = x.shape[axis]
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        if let gamma, gamma.count != n { throw .shape("layer_norm: gamma \(gamma.shape) is not [\(n)]") }
        if let beta, beta.count != n { throw .shape("layer_norm: beta \(beta.shape) is not [\(n)]") }
        let g = gamma?.toF32()
        let b = beta?.toF32()
        let threads = threads
        x.withUnsafeMutableFloats { xp in
            NormKernels.layerNorm(
                SharedPointer(xp.baseAddress!), outer: outer, n: n, inner: inner, gamma: g, beta: b, epsilon: epsilon,
                threads: threads)
        }
    }

    public func rmsNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float) throws(ComputeError) {
        guard let n = x.shape.last, n > 0 else { throw .shape("rms_norm of an empty tensor") }
        if let gamma, gamma.count != n { throw .shape("rms_norm: gamma \(gamma.shape) is not [\(n)]") }
        let g = gamma?.toF32()
        let rows = x.count / n
        let threads = threads
        x.withUnsafeMutableFloats { xp in
            NormKernels.rmsNorm(
                SharedPointer(xp.baseAddress!), rows: rows, n: n, gamma: g, epsilon: epsilon, threads: threads)
        }
    }

    public func softmax(_ x: inout Tensor, causalOffset: Int?) throws(ComputeError) {
        guard let n = x.shape.last, n > 0 else { throw .shape("softmax of an empty tensor") }
        let rows = x.count / n
        let perMatrix = x.rank >= 2 ? max(1, x.shape[x.rank - 2]) : 1
        let threads = threads
        x.withUnsafeMutableFloats { xp in
            NormKernels.softmax(
                SharedPointer(xp.baseAddress!), rows: rows, n: n, causalOffset: causalOffset,
                rowsPerMatrix: perMatrix, threads: threads)
        }
    }

    public func activation(_ f: Activation, _ x: inout Tensor) throws(ComputeError) {
        let threads = threads
        x.withUnsafeMutableFloats { xp in
            let p = SharedPointer(xp.baseAddress!)
            ElementwiseKernels.activation(f, p, into: p, count: xp.count, threads: threads)
        }
    }

    public func activation(_ f: Activation, _ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        guard y.count == x.count else { throw .shape("\(f): output \(y.shape) for input \(x.shape)") }
        let threads = threads
        let source = x.toF32()
        source.withUnsafeFloats { xp in
            y.withUnsafeMutableFloats { yp in
                ElementwiseKernels.activation(
                    f, SharedPointer(xp.baseAddress!), into: SharedPointer(yp.baseAddress!), count: xp.count,
                    threads: threads)
            }
        }
    }

    public func binary(_ op: BinaryOp, _ a: inout Tensor, _ b: Tensor) throws(ComputeError) {
        guard let plan = BroadcastPlan(a.shape, b.shape) else {
            throw .shape("\(op.rawValue): \(b.shape) does not broadcast to \(a.shape)")
        }
        let bf = b.toF32()
        let threads = threads
        a.withUnsafeMutableFloats { ap in
            bf.withUnsafeFloats { bp in
                ElementwiseKernels.binary(
                    op, SharedPointer(ap.baseAddress!), SharedPointer(bp.baseAddress!), plan: plan, threads: threads)
            }
        }
    }

    public func embedding(_ table: PreparedWeight, ids: [Int32], into y: inout Tensor) throws(ComputeError) {
        let t = table.cpu
        let (vocab, dim) = (t.shape[0], t.shape[1])
        guard y.count == ids.count * dim else {
            throw .shape("embedding: output \(y.shape) is not [\(ids.count), \(dim)]")
        }
        guard ids.allSatisfy({ $0 >= 0 && Int($0) < vocab }) else {
            throw .shape("embedding: an id lies outside the vocabulary of \(vocab)")
        }
        y.withUnsafeMutableFloats { yp in
            t.withUnsafeBytes { raw in
                for (i, id) in ids.enumerated() {
                    let dst = yp.baseAddress! + i * dim
                    let row = Int(id) * dim
                    switch t.dtype {
                    case .f32:
                        dst.update(from: raw.baseAddress!.assumingMemoryBound(to: Float.self) + row, count: dim)
                    case .f16:
                        let src = raw.baseAddress!.assumingMemoryBound(to: Float16.self) + row
                        for j in 0..<dim { dst[j] = Float(src[j]) }
                    case .q4_0, .q4_1, .q8_0, .q4_K, .q6_K:
                        let rowBytes = t.dtype.byteCount(elements: dim)!
                        Quantization.dequantize(
                            raw.baseAddress! + Int(id) * rowBytes, dtype: t.dtype, count: dim, into: dst)
                    default:  // bf16
                        let src = raw.baseAddress!.assumingMemoryBound(to: UInt16.self) + row
                        for j in 0..<dim { dst[j] = Float(bitPattern: UInt32(src[j]) << 16) }
                    }
                }
            }
        }
    }

    /// x is [tokens, heads, headDim] with a position per token and an even rotary width that fits a head.
    static func checkRope(_ x: Tensor, positions: Int, rotaryDim: Int) throws(ComputeError) {
        guard x.rank == 3, x.shape[0] == positions, rotaryDim % 2 == 0, rotaryDim <= x.shape[2] else {
            throw .shape("rope: x \(x.shape) with \(positions) positions and rotary dim \(rotaryDim)")
        }
    }

    public func rope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int, base: Float, freqScale: Float, mode: RoPEMode
    ) throws(ComputeError) {
        try Self.checkRope(x, positions: positions.count, rotaryDim: rotaryDim)
        let (heads, headDim) = (x.shape[1], x.shape[2])
        let half = rotaryDim / 2
        var inv = [Float](repeating: 0, count: half)
        for j in 0..<half { inv[j] = freqScale * FloatMath.pow(base, -Float(2 * j) / Float(rotaryDim)) }
        x.withUnsafeMutableFloats { xp in
            var cs = [Float](repeating: 0, count: half)
            var sn = [Float](repeating: 0, count: half)
            for (t, pos) in positions.enumerated() {
                for j in 0..<half {
                    let angle = Float(pos) * inv[j]
                    cs[j] = FloatMath.cos(angle)
                    sn[j] = FloatMath.sin(angle)
                }
                for h in 0..<heads {
                    let v = xp.baseAddress! + (t * heads + h) * headDim
                    for j in 0..<half {
                        let (i0, i1) = mode == .interleaved ? (2 * j, 2 * j + 1) : (j, j + half)
                        let x0 = v[i0]
                        let x1 = v[i1]
                        v[i0] = x0 * cs[j] - x1 * sn[j]
                        v[i1] = x0 * sn[j] + x1 * cs[j]
                    }
                }
            }
        }
    }

    public func transpose(_ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        guard x.rank == 2, y.shape == [x.shape[1], x.shape[0]] else {
            throw .shape("transpose: \(x.shape) into \(y.shape)")
        }
        let (rows, cols) = (x.shape[0], x.shape[1])
        x.withUnsafeFloats { xp in
            y.withUnsafeMutableFloats { yp in
                let block = 32
                for r0 in stride(from: 0, to: rows, by: block) {
                    for c0 in stride(from: 0, to: cols, by: block) {
                        for r in r0..<min(r0 + block, rows) {
                            for c in c0..<min(c0 + block, cols) { yp[c * rows + r] = xp[r * cols + c] }
                        }
                    }
                }
            }
        }
    }
}

/// Shape checks shared by every backend's matmul.
public enum MatmulShape {
    /// Throws unless a · b (or a · bᵀ) fits c and every view lies within its tensor.
    public static func check(
        _ av: MatrixView, _ bv: MatrixView, transposeB: Bool, _ cv: MatrixView, counts: (Int, Int, Int)
    ) throws(ComputeError) {
        let (bk, bn) = transposeB ? (bv.cols, bv.rows) : (bv.rows, bv.cols)
        guard av.cols == bk, cv.rows == av.rows, cv.cols == bn, cv.batch == av.batch, bv.batch >= 1,
            av.batch % bv.batch == 0
        else {
            throw .shape(
                "matmul: [\(av.batch), \(av.rows), \(av.cols)] · [\(bv.batch), \(bk), \(bn)] into [\(cv.batch), \(cv.rows), \(cv.cols)]"
            )
        }
        guard av.extent <= counts.0, bv.extent <= counts.1, cv.extent <= counts.2,
            av.rowStride >= av.cols, bv.rowStride >= bv.cols, cv.rowStride >= cv.cols
        else { throw .shape("matmul: a view reaches outside its tensor") }
    }
}

/// What the CPU backend asks of the OS.
enum System {
    /// The number of active cores.
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Activations of up to tens of megabytes (attention blocks, im2col buffers, encoder activations) are
    /// allocated and freed op after op. glibc's dynamic mmap threshold serves many of them with fresh
    /// mappings, so every such op paid for page faults and zeroing again; a fixed 64 MB threshold keeps them
    /// in the heap for the next op, while larger blocks (whole decoded files) still go back to the OS when
    /// freed. Process-wide, set once.
    static func keepLargeAllocations() {
        #if canImport(Glibc)
            _ = configured
        #endif
    }

    #if canImport(Glibc)
        private static let configured: Bool = {
            // mallopt lives in <malloc.h>, which Swift's Glibc module does not export: look it up.
            typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
            let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
            let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
            let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
            _ = mallopt(mmapThreshold, 64 << 20)
            _ = mallopt(trimThreshold, 128 << 20)
            return true
        }()
    #endif
}

extension Optional where Wrapped == Tensor {
    /// `body` on the f32 elements of the tensor, or on nil when there is none.
    fileprivate func withUnsafeFloatsIfPresent<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let tensor = self else { return body(nil) }
        return tensor.withUnsafeFloats { body($0.baseAddress) }
    }

    func withUnsafeBytesIfPresent<R>(_ body: (UnsafeRawPointer?) -> R) -> R {
        guard let tensor = self else { return body(nil) }
        return tensor.withUnsafeBytes { body($0.baseAddress) }
    }
}

extension Tensor {
    /// The elements up to the last one `view` reaches, as f32.
    fileprivate func widenedPrefix(_ view: MatrixView) -> Tensor {
        guard view.batch > 0, view.rows > 0, view.cols > 0 else { return toF32() }
        let reach =
            view.offset + (view.batch - 1) * view.batchStride + (view.rows - 1) * view.rowStride + view.cols
        return Tensor(shape: [reach], dtype: dtype, storage: storage, byteOffset: byteOffset).toF32()
    }
}
