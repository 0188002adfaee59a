import CKernels
import Tensors

/// The ops of a Llama-family model in llama.cpp's CPU arithmetic (`Arithmetic.ggml`; kernels in
/// CKernels/ggml_arith.c): 8-bit activations per 32-block before every q4_0/q4_1/q8_0 product, summed in ggml's lane
/// order; RMSNorm summed in double; RoPE angles multiplied up in f32; attention on f16 queries, keys, values and
/// weights with ggml's exp; SwiGLU with ggml's exp. Weights of other types keep Hark's own products.
extension Arithmetic {
    /// What a Llama-family model runs unless told: `.ggml` where the CPU has AVX-512 (llama.cpp built for such a CPU
    /// is the arithmetic these kernels reproduce, and they run at full speed there), `.native` elsewhere (the kernels
    /// would fall back to portable scalar code, 5–15× slower, measured, and llama.cpp built for that CPU sums its
    /// attention in other orders anyway).
    public static let llamaDefault: Arithmetic = QuantizedMatrix.vectorC ? .ggml : .native
}

extension CPUBackend {
    /// Whether `ggmlLinear` follows ggml for weights of this type (ggml quantizes activations to q8_0 / q8_1 for them).
    static func ggmlProducts(_ dtype: DType) -> Bool { dtype == .q4_0 || dtype == .q4_1 || dtype == .q8_0 }

    public func ggmlLinear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor)
        throws(ComputeError)
    {
        let w = weight.cpu
        let (n, k) = (w.shape[0], w.shape[1])
        guard Self.ggmlProducts(w.dtype), k % 32 == 0, x.dtype == .f32 else {
            return try linear(x, weight: weight, bias: bias, into: &y)
        }
        let m = try Self.checkLinear(x, n: n, k: k, bias: bias, y: y)
        let blocks = k / 32
        let format = QuantizedMatrix.format(w.dtype)
        let packed = weight.use == .linear ? weight.packed : nil
        let vnni: Int32 = QuantizedMatrix.vnni ? 1 : 0
        let groups = packed == nil ? 0 : n / 16
        let rowBytes = blocks * w.dtype.blockBytes
        let threads = threads
        // x as 8-bit values (in 16-bit lanes), with each block's d and s: on the stack while it fits (decoding).
        withUnsafeTemporaryAllocation(of: Int16.self, capacity: m * k) { q in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * m * blocks) { ds in
                let (qs, dp, sp) = (
                    SharedPointer(q.baseAddress!), SharedPointer(ds.baseAddress!),
                    SharedPointer(ds.baseAddress! + m * blocks)
                )
                x.withUnsafeFloats {
                    hark_gg_quantize_q8($0.baseAddress!, m * k, format == 1 ? 1 : 0, qs.base, dp.base, sp.base)
                }
                w.withUnsafeBytes { wp in
                    y.withUnsafeMutableFloats { yp in
                        let (ws, ys) = (
                            SharedPointer(wp.baseAddress!.assumingMemoryBound(to: UInt8.self)),
                            SharedPointer(yp.baseAddress!)
                        )
                        packed.withUnsafeBytesIfPresent { packedBytes in
                            guard let packedBytes, groups > 0 else { return }
                            let ps = SharedPointer(packedBytes.assumingMemoryBound(to: UInt8.self))
                            let record = Int(hark_quant_packed_record(format))
                            parallelFor(
                                groups, threads: threads,
                                grain: streamingGrain(bytesPerItem: blocks * record, bytesPerThread: 64 << 10)
                            ) { r in
                                hark_gg_packed_matvec(
                                    format, ps.base, blocks, qs.base, dp.base, sp.base, m, ys.base, n, r.lowerBound,
                                    r.upperBound, vnni)
                            }
                        }
                        let first = groups * 16
                        parallelFor(
                            n - first, threads: threads, grain: max(1, streamingGrain(bytesPerItem: rowBytes * m) / 4)
                        ) { r in
                            hark_gg_matvec(
                                ws.base, rowBytes, format, blocks, qs.base, dp.base, sp.base, m, ys.base, n,
                                first + r.lowerBound, first + r.upperBound)
                        }
                    }
                }
            }
        }
        if let bias {
            // A separate ggml_add in llama.cpp's graph: one rounding per element.
            let b = bias.toF32()
            b.withUnsafeFloats { bp in
                y.withUnsafeMutableFloats { yp in
                    for i in 0..<m { for j in 0..<n { yp[i * n + j] += bp[j] } }
                }
            }
        }
    }

    public func ggmlRMSNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float) throws(ComputeError) {
        let n = x.shape.last ?? 0
        guard n > 0, x.dtype == .f32 else { throw .shape("rms_norm: x \(x.shape) \(x.dtype)") }
        if let gamma, gamma.count != n { throw .shape("rms_norm: gamma \(gamma.shape) is not [\(n)]") }
        let g = gamma?.toF32() ?? Tensor(shape: [n], floats: [Float](repeating: 1, count: n))
        let rows = x.count / n
        g.withUnsafeFloats { gp in
            x.withUnsafeMutableFloats { xp in
                for r in 0..<rows {
                    hark_gg_rms_norm(xp.baseAddress! + r * n, gp.baseAddress!, n, epsilon, xp.baseAddress! + r * n)
                }
            }
        }
    }

    public func ggmlRope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int, base: Float, freqScale: Float, mode: RoPEMode
    ) throws(ComputeError) {
        try Self.checkRope(x, positions: positions.count, rotaryDim: rotaryDim)
        let (heads, headDim) = (x.shape[1], x.shape[2])
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rotaryDim) { cache in
            x.withUnsafeMutableFloats { xp in
                for (t, position) in positions.enumerated() {
                    hark_gg_rope_cache(Float(position), freqScale, base, rotaryDim, cache.baseAddress!)
                    hark_gg_rope_rows(
                        xp.baseAddress! + t * heads * headDim, heads, headDim, rotaryDim, mode == .halves ? 1 : 0,
                        cache.baseAddress!)
                }
            }
        }
    }

    /// Causal attention over f16 keys and values (llama.cpp's cache); anything else goes to `attention`.
    public func ggmlAttention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int?, into out: inout Tensor, _ ov: MatrixView
    ) throws(ComputeError) {
        guard let past = causalOffset, k.dtype == .f16, v.dtype == .f16, q.dtype == .f32,
            kv.rowStride == vv.rowStride, kv.batch == vv.batch, qv.batch % max(kv.batch, 1) == 0
        else {
            return try attention(q, qv, k, kv, v, vv, scale: scale, causalOffset: causalOffset, into: &out, ov)
        }
        try AttentionShape.check(qv, kv, vv, ov, counts: (q.count, k.count, v.count, out.count))
        let group = qv.batch / kv.batch
        let padded = (kv.rows + 63) / 64 * 64
        let scratchCount = 2 * padded + 66 * qv.cols
        q.withUnsafeFloats { qp in
            k.withUnsafeBytes { kp in
                v.withUnsafeBytes { vp in
                    out.withUnsafeMutableFloats { op in
                        let qs = SharedPointer(qp.baseAddress!)
                        let ks = SharedPointer(kp.baseAddress!.assumingMemoryBound(to: UInt16.self))
                        let vs = SharedPointer(vp.baseAddress!.assumingMemoryBound(to: UInt16.self))
                        let os = SharedPointer(op.baseAddress!)
                        parallelFor(qv.batch, threads: threads, grain: 1) { heads in
                            // On the worker's stack while it fits (decoding: ~20 KB), so a token allocates nothing.
                            withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
                                for h in heads {
                                    let g = h / group
                                    hark_gg_attention(
                                        qs.base + qv.offset + h * qv.batchStride, qv.rowStride,
                                        ks.base + kv.offset + g * kv.batchStride,
                                        vs.base + vv.offset + g * vv.batchStride, kv.rowStride, qv.rows, kv.rows, past,
                                        qv.cols, scale, os.base + ov.offset + h * ov.batchStride, ov.rowStride,
                                        scratch.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// gate = silu(gate) · up, row by row (the last axis), as ggml's swiglu.
    public func ggmlSwiGLU(_ gate: inout Tensor, _ up: Tensor) throws(ComputeError) {
        let n = gate.shape.last ?? 0
        guard n > 0, gate.count == up.count, gate.dtype == .f32, up.dtype == .f32 else {
            throw .shape("swiglu: gate \(gate.shape), up \(up.shape)")
        }
        let rows = gate.count / n
        up.withUnsafeFloats { up in
            gate.withUnsafeMutableFloats { g in
                for r in 0..<rows {
                    hark_gg_swiglu(g.baseAddress! + r * n, up.baseAddress! + r * n, n, g.baseAddress! + r * n)
                }
            }
        }
    }
}

/// The C kernels on plain arrays, vector bodies (where the CPU has them) or the portable ones: lets tests hold
/// each to the other bit for bit.
enum GGMLKernels {
    static func quantize(_ x: [Float], withSum: Bool, portable: Bool) -> (q: [Int16], d: [Float], s: [Float]) {
        var q = [Int16](repeating: 0, count: x.count)
        var d = [Float](repeating: 0, count: x.count / 32)
        var s = d
        if portable {
            hark_gg_quantize_q8_scalar(x, x.count, withSum ? 1 : 0, &q, &d, &s)
        } else {
            hark_gg_quantize_q8(x, x.count, withSum ? 1 : 0, &q, &d, &s)
        }
        return (q, d, s)
    }

    static func swiglu(_ g: [Float], _ u: [Float], portable: Bool) -> [Float] {
        var y = [Float](repeating: 0, count: g.count)
        if portable { hark_gg_swiglu_scalar(g, u, g.count, &y) } else { hark_gg_swiglu(g, u, g.count, &y) }
        return y
    }

    /// One head: q [rows, E] f32, k and v [keys, E] f16 bit patterns, causal after `past` positions.
    static func attention(
        q: [Float], k: [UInt16], v: [UInt16], rows: Int, keys: Int, past: Int, headDim e: Int, scale: Float,
        portable: Bool
    ) -> [Float] {
        var out = [Float](repeating: 0, count: rows * e)
        var scratch = [Float](repeating: 0, count: 2 * ((keys + 63) / 64 * 64) + 66 * e)
        if portable {
            hark_gg_attention_scalar(q, e, k, v, e, rows, keys, past, e, scale, &out, e, &scratch)
        } else {
            hark_gg_attention(q, e, k, v, e, rows, keys, past, e, scale, &out, e, &scratch)
        }
        return out
    }

    /// y = x · Wᵀ for a q4_0 / q4_1 / q8_0 weight [n, k] (whole groups of 16 rows) through the packed kernel, with
    /// or without VNNI; nil where the CPU has no AVX-512 (no packed form).
    static func packedLinear(_ x: [Float], weight w: Tensor, vnni: Bool) -> [Float]? {
        guard let packed = QuantizedMatrix.packedForm(of: w, use: .linear) else { return nil }
        let (n, k) = (w.shape[0], w.shape[1])
        let (m, blocks, format) = (x.count / k, k / 32, QuantizedMatrix.format(w.dtype))
        let (q, d, s) = quantize(x, withSum: format == 1, portable: false)
        var y = [Float](repeating: 0, count: m * n)
        packed.withUnsafeBytes { p in
            hark_gg_packed_matvec(
                format, p.baseAddress!.assumingMemoryBound(to: UInt8.self), blocks, q, d, s, m, &y, n, 0, n / 16,
                vnni ? 1 : 0)
        }
        return y
    }

    /// y = x · Wᵀ for a q4_0 / q4_1 / q8_0 weight [n, k] through the portable kernel, one row after another.
    static func linear(_ x: [Float], weight w: Tensor) -> [Float] {
        let (n, k) = (w.shape[0], w.shape[1])
        let (m, blocks, format) = (x.count / k, k / 32, QuantizedMatrix.format(w.dtype))
        let (q, d, s) = quantize(x, withSum: format == 1, portable: true)
        var y = [Float](repeating: 0, count: m * n)
        w.withUnsafeBytes { wp in
            hark_gg_matvec(
                wp.baseAddress!.assumingMemoryBound(to: UInt8.self), blocks * w.dtype.blockBytes, format, blocks, q, d,
                s, m, &y, n, 0, n)
        }
        return y
    }
}
