/// How a right operand of shape `b` broadcasts over a left operand of shape `a` (NumPy rules,
/// right-aligned): `a` is walked as rows of its last axis; each row of `b` starts at `rowOffset(r)` and
/// advances by `innerStride` (1, or 0 when b's last axis is 1).
struct BroadcastPlan: Sendable {
    let rows: Int
    let inner: Int
    let innerStride: Int
    /// a's dimensions except the last, and b's stride along each (0 where b broadcasts).
    let outerDims: [Int]
    let outerStrides: [Int]

    init?(_ a: [Int], _ b: [Int]) {
        var bb = b
        while bb.count > a.count {
            guard bb.first == 1 else { return nil }
            bb.removeFirst()
        }
        bb = Array(repeating: 1, count: a.count - bb.count) + bb
        var strides = Array(repeating: 0, count: a.count)
        var s = 1
        for d in stride(from: a.count - 1, through: 0, by: -1) {
            guard bb[d] == a[d] || bb[d] == 1 else { return nil }
            strides[d] = bb[d] == 1 ? 0 : s
            s *= bb[d]
        }
        inner = a.last ?? 1
        rows = inner == 0 ? 0 : a.reduce(1, *) / inner
        innerStride = a.isEmpty ? 0 : strides[a.count - 1]
        outerDims = Array(a.dropLast())
        outerStrides = Array(strides.dropLast())
    }

    /// Offset in b of the first element b pairs with row `r` of a.
    @inline(__always) func rowOffset(_ r: Int) -> Int {
        var rest = r
        var offset = 0
        for d in stride(from: outerDims.count - 1, through: 0, by: -1) {
            offset += (rest % outerDims[d]) * outerStrides[d]
            rest /= outerDims[d]
        }
        return offset
    }
}

/// Element-wise kernels on the CPU, split into contiguous chunks over the cores.
enum ElementwiseKernels {
    /// y = f(x) over `count` elements; y may be x (in place). Out of place, each thread copies its share and
    /// works on the copy in place while it is in cache: a loop reading one pointer and writing another is not
    /// vectorised (they might overlap), one over a single pointer is.
    static func activation(
        _ f: Activation, _ x: SharedPointer<Float>, into y: SharedPointer<Float>, count: Int, threads: Int
    ) {
        parallelFor(count, threads: threads, grain: 32768) { range in
            if x.base != y.base {
                (y.base + range.lowerBound).update(from: x.base + range.lowerBound, count: range.count)
            }
            let v = y.base
            switch f {
            case .gelu:
                for i in range { v[i] = 0.5 * v[i] * (1 + VectorMath.erf(v[i] * 0.707_106_781_186_547_52)) }
            case .geluTanh:
                for i in range {
                    let t = v[i]
                    v[i] = 0.5 * t * (1 + VectorMath.tanh(0.79788456080286536 * (t + 0.044715 * t * t * t)))
                }
            case .silu:
                for i in range { v[i] = v[i] / (1 + VectorMath.exp(-v[i])) }
            case .relu:
                for i in range { v[i] = max(v[i], 0) }
            case .leakyReLU(let slope):
                for i in range { v[i] = v[i] >= 0 ? v[i] : v[i] * slope }
            case .tanh:
                for i in range { v[i] = VectorMath.tanh(v[i]) }
            case .sigmoid:
                for i in range { v[i] = 1 / (1 + VectorMath.exp(-v[i])) }
            }
        }
    }

    static func binary(
        _ op: BinaryOp, _ a: SharedPointer<Float>, _ b: SharedPointer<Float>, plan: BroadcastPlan, threads: Int
    ) {
        let n = plan.inner
        parallelFor(plan.rows, threads: threads, grain: max(1, 32768 / max(n, 1))) { rows in
            for r in rows {
                let dst = a.base + r * n
                let src = b.base + plan.rowOffset(r)
                switch (op, plan.innerStride) {
                case (.add, 0):
                    let s = src[0]
                    for i in 0..<n { dst[i] += s }
                case (.mul, 0):
                    let s = src[0]
                    for i in 0..<n { dst[i] *= s }
                case (.add, _):
                    for i in 0..<n { dst[i] += src[i] }
                case (.mul, _):
                    for i in 0..<n { dst[i] *= src[i] }
                }
            }
        }
    }
}
