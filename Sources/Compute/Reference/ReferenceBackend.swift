import Foundation
import Tensors

/// The oracle: every op written as the plainest loop that states its definition, single-threaded,
/// accumulating in Double, reading weights straight from the model file's layout and element type.
///
/// Slow on purpose. The CPU backend and every accelerator backend are checked against it op by op
/// (`OpParity`), as ggml's test-backend-ops checks each backend against the CPU.
public struct ReferenceBackend: Backend {
    public let name = "reference"

    public init() {}

    public func supports(_ op: Op) -> Bool {
        switch op {
        case .linear(_, _, _, let w), .embedding(_, _, _, let w):
            !w.isQuantized || Quantization.supports(w)
        case .conv1d(_, _, _, _, _, let w), .convTranspose1d(_, _, _, _, _, let w):
            !w.isQuantized
        default: true
        }
    }

    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? { weight }

    /// The elements as Double; quantized weights through the reference dequantizer.
    private func values(_ t: Tensor) -> [Double] { t.floats().map(Double.init) }

    public func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        let w = values(weight.original)
        let (n, k) = (weight.shape[0], weight.shape[1])
        let xs = values(x)
        let b = bias.map(values)
        let m = xs.count / k
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = b?[j] ?? 0
                for l in 0..<k { s += xs[i * k + l] * w[j * k + l] }
                out[i * n + j] = Float(s)
            }
        }
        y = Tensor(shape: y.shape, floats: out)
    }

    public func matmul(
        _ a: Tensor, _ av: MatrixView, _ b: Tensor, _ bv: MatrixView, transposeB: Bool, alpha: Float, beta: Float,
        into c: inout Tensor, _ cv: MatrixView
    ) throws(ComputeError) {
        try MatmulShape.check(av, bv, transposeB: transposeB, cv, counts: (a.count, b.count, c.count))
        let (va, vb) = (values(a), values(b))
        var vc = c.floats()
        let group = av.batch / bv.batch
        for bi in 0..<av.batch {
            for i in 0..<av.rows {
                for j in 0..<cv.cols {
                    var s = 0.0
                    for l in 0..<av.cols {
                        let ai = av.offset + bi * av.batchStride + i * av.rowStride + l
                        let bOff = bv.offset + (bi / group) * bv.batchStride
                        let bi2 = transposeB ? bOff + j * bv.rowStride + l : bOff + l * bv.rowStride + j
                        s += va[ai] * vb[bi2]
                    }
                    let ci = cv.offset + bi * cv.batchStride + i * cv.rowStride + j
                    vc[ci] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(vc[ci])))
                }
            }
        }
        c = Tensor(shape: c.shape, floats: vc)
    }

    public func conv1d(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: Conv1DParams, into y: inout Tensor)
        throws(ComputeError)
    {
        let w = values(weight.original)
        let (cout, cinG, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        let (cin, length) = (x.shape[0], x.shape[1])
        let tout = p.outputLength(input: length, kernel: kernel)
        guard cin == cinG * p.groups, y.shape == [cout, tout] else { throw .shape("conv1d shapes") }
        let xs = values(x)
        let b = bias.map(values)
        let coutG = cout / p.groups
        var out = [Float](repeating: 0, count: cout * tout)
        for o in 0..<cout {
            let g = o / coutG
            for t in 0..<tout {
                var s = b?[o] ?? 0
                for ci in 0..<cinG {
                    for k in 0..<kernel {
                        let i = t * p.stride + k * p.dilation - p.padLeft
                        if i >= 0 && i < length {
                            s += w[(o * cinG + ci) * kernel + k] * xs[(g * cinG + ci) * length + i]
                        }
                    }
                }
                out[o * tout + t] = Float(s)
            }
        }
        y = Tensor(shape: y.shape, floats: out)
    }

    public func convTranspose1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError) {
        let w = values(weight.original)
        let (cin, coutG, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        let length = x.shape[1]
        let cout = coutG * p.groups
        let tout = p.outputLength(input: length, kernel: kernel)
        guard y.shape == [cout, tout] else { throw .shape("conv_transpose1d shapes") }
        let xs = values(x)
        let cinG = cin / p.groups
        var acc = [Double](repeating: 0, count: cout * tout)
        if let bias {
            let b = values(bias)
            for o in 0..<cout { for t in 0..<tout { acc[o * tout + t] = b[o] } }
        }
        for ci in 0..<cin {
            let g = ci / cinG
            for oc in 0..<coutG {
                let o = g * coutG + oc
                for k in 0..<kernel {
                    for t in 0..<length {
                        let pos = t * p.stride + k * p.dilation - p.padding
                        if pos >= 0 && pos < tout {
                            acc[o * tout + pos] += xs[ci * length + t] * w[(ci * coutG + oc) * kernel + k]
                        }
                    }
                }
            }
        }
        y = Tensor(shape: y.shape, floats: acc.map(Float.init))
    }

    public func layerNorm(_ x: inout Tensor, axis: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float)
        throws(ComputeError)
    {
        let n = x.shape[axis]
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        var v = values(x)
        let g = gamma.map(values)
        let b = beta.map(values)
        for o in 0..<outer {
            for i in 0..<inner {
                let idx = { (c: Int) in (o * n + c) * inner + i }
                let mean = (0..<n).reduce(0.0) { $0 + v[idx($1)] } / Double(n)
                let variance = (0..<n).reduce(0.0) { $0 + (v[idx($1)] - mean) * (v[idx($1)] - mean) } / Double(n)
                let inv = 1 / (variance + Double(epsilon)).squareRoot()
                for c in 0..<n { v[idx(c)] = (v[idx(c)] - mean) * inv * (g?[c] ?? 1) + (b?[c] ?? 0) }
            }
        }
        x = Tensor(shape: x.shape, floats: v.map(Float.init))
    }

    public func rmsNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float) throws(ComputeError) {
        let n = x.shape.last!
        var v = values(x)
        let g = gamma.map(values)
        for r in 0..<(v.count / n) {
            let ms = (0..<n).reduce(0.0) { $0 + v[r * n + $1] * v[r * n + $1] } / Double(n)
            let inv = 1 / (ms + Double(epsilon)).squareRoot()
            for c in 0..<n { v[r * n + c] *= inv * (g?[c] ?? 1) }
        }
        x = Tensor(shape: x.shape, floats: v.map(Float.init))
    }

    public func softmax(_ x: inout Tensor, causalOffset: Int?) throws(ComputeError) {
        let n = x.shape.last!
        var v = values(x)
        let perMatrix = x.rank >= 2 ? max(1, x.shape[x.rank - 2]) : 1
        for r in 0..<(v.count / n) {
            let keep = causalOffset.map { min(n, max(0, r % perMatrix + $0 + 1)) } ?? n
            let m = (0..<keep).map { v[r * n + $0] }.max() ?? 0
            let sum = (0..<keep).reduce(0.0) { $0 + Foundation.exp(v[r * n + $1] - m) }
            for c in 0..<n { v[r * n + c] = c < keep ? Foundation.exp(v[r * n + c] - m) / sum : 0 }
        }
        x = Tensor(shape: x.shape, floats: v.map(Float.init))
    }

    public func attention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int?, into out: inout Tensor, _ ov: MatrixView
    ) throws(ComputeError) {
        try AttentionShape.check(qv, kv, vv, ov, counts: (q.count, k.count, v.count, out.count))
        let (vq, vk, vvs) = (values(q), values(k), values(v))
        var vo = out.floats()
        let group = qv.batch / kv.batch
        for h in 0..<qv.batch {
            let kb = h / group
            for r in 0..<qv.rows {
                let keep = causalOffset.map { min(kv.rows, max(0, r + $0 + 1)) } ?? kv.rows
                let scores = (0..<keep).map { j in
                    (0..<qv.cols).reduce(0.0) { s, c in
                        s + vq[qv.offset + h * qv.batchStride + r * qv.rowStride + c]
                            * vk[kv.offset + kb * kv.batchStride + j * kv.rowStride + c]
                    } * Double(scale)
                }
                let m = scores.max() ?? 0
                let p = scores.map { Foundation.exp($0 - m) }
                let sum = p.reduce(0, +)
                for c in 0..<ov.cols {
                    var s = 0.0
                    for j in 0..<keep { s += p[j] * vvs[vv.offset + kb * vv.batchStride + j * vv.rowStride + c] }
                    vo[ov.offset + h * ov.batchStride + r * ov.rowStride + c] = keep > 0 ? Float(s / sum) : 0
                }
            }
        }
        out = Tensor(shape: out.shape, floats: vo)
    }

    public func activation(_ f: Activation, _ x: inout Tensor) throws(ComputeError) {
        let v = values(x).map { (t: Double) -> Double in
            switch f {
            case .gelu: 0.5 * t * (1 + Foundation.erf(t / 2.0.squareRoot()))
            case .geluTanh: 0.5 * t * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (t + 0.044715 * t * t * t)))
            case .silu: t / (1 + Foundation.exp(-t))
            case .relu: max(t, 0)
            case .leakyReLU(let s): t >= 0 ? t : t * Double(s)
            case .tanh: Foundation.tanh(t)
            case .sigmoid: 1 / (1 + Foundation.exp(-t))
            }
        }
        x = Tensor(shape: x.shape, floats: v.map(Float.init))
    }

    public func binary(_ op: BinaryOp, _ a: inout Tensor, _ b: Tensor) throws(ComputeError) {
        // Broadcast by index arithmetic over a's full multi-index.
        let shapeA = a.shape
        let shapeB = Array(repeating: 1, count: max(0, shapeA.count - b.rank)) + b.shape.suffix(shapeA.count)
        guard zip(shapeA, shapeB).allSatisfy({ $0 == $1 || $1 == 1 }) else { throw .shape("broadcast") }
        let (va, vb) = (values(a), values(b))
        var out = [Float](repeating: 0, count: va.count)
        for i in 0..<va.count {
            var rest = i
            var bi = 0
            var strideB = 1
            for d in stride(from: shapeA.count - 1, through: 0, by: -1) {
                let idx = rest % shapeA[d]
                rest /= shapeA[d]
                if shapeB[d] != 1 { bi += idx * strideB }
                strideB *= shapeB[d]
            }
            out[i] = Float(op == .add ? va[i] + vb[bi] : va[i] * vb[bi])
        }
        a = Tensor(shape: shapeA, floats: out)
    }

    public func embedding(_ table: PreparedWeight, ids: [Int32], into y: inout Tensor) throws(ComputeError) {
        let t = table.original.floats()
        let dim = table.shape[1]
        var out = [Float]()
        for id in ids { out += t[(Int(id) * dim)..<(Int(id) * dim + dim)] }
        y = Tensor(shape: y.shape, floats: out)
    }

    public func rope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int, base: Float, freqScale: Float, mode: RoPEMode
    ) throws(ComputeError) {
        let (heads, d) = (x.shape[1], x.shape[2])
        var v = values(x)
        for (t, pos) in positions.enumerated() {
            for h in 0..<heads {
                for j in 0..<(rotaryDim / 2) {
                    let theta =
                        Double(pos) * Double(freqScale)
                        * Foundation.pow(Double(base), -2 * Double(j) / Double(rotaryDim))
                    let (i0, i1) = mode == .interleaved ? (2 * j, 2 * j + 1) : (j, j + rotaryDim / 2)
                    let o = (t * heads + h) * d
                    let (a, b) = (v[o + i0], v[o + i1])
                    v[o + i0] = a * Foundation.cos(theta) - b * Foundation.sin(theta)
                    v[o + i1] = a * Foundation.sin(theta) + b * Foundation.cos(theta)
                }
            }
        }
        x = Tensor(shape: x.shape, floats: v.map(Float.init))
    }

    public func transpose(_ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        let (r, c) = (x.shape[0], x.shape[1])
        let v = x.floats()
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = v[i * c + j] } }
        y = Tensor(shape: [c, r], floats: out)
    }
}
