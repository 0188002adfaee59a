import Tensors

/// Layer norm, RMS norm and softmax on the CPU, split over rows.
enum NormKernels {
    /// Normalises x viewed as [outer, n, inner] over n. With inner == 1 each row is contiguous; with
    /// inner > 1 (channels-first, as VITS normalises [channels, time]) whole time rows are accumulated
    /// at once so the loops stay contiguous.
    static func layerNorm(
        _ x: SharedPointer<Float>, outer: Int, n: Int, inner: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float,
        threads: Int
    ) {
        let g = gamma.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
        let b = beta.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
        defer { withExtendedLifetime((gamma, beta)) {} }
        if inner == 1 {
            parallelFor(outer, threads: threads, grain: max(1, 16384 / n)) { rows in
                for r in rows {
                    let v = x.base + r * n
                    let mean = VectorMath.sum(v, n) / Float(n)
                    let sq = VectorMath.sumOfSquares(v, n, center: mean)
                    let inv = 1 / FloatMath.sqrt(sq / Float(n) + epsilon)
                    for i in 0..<n {
                        var y = (v[i] - mean) * inv
                        if let g { y *= g.base[i] }
                        if let b { y += b.base[i] }
                        v[i] = y
                    }
                }
            }
            return
        }
        // Channels-first: split the inner (time) axis into column blocks.
        let block = 256
        let blocks = (inner + block - 1) / block
        parallelFor(outer * blocks, threads: threads, grain: max(1, 65536 / (n * block))) { work in
            var mean = [Float](repeating: 0, count: block)
            var sq = [Float](repeating: 0, count: block)
            for item in work {
                let o = item / blocks
                let t0 = (item % blocks) * block
                let width = min(block, inner - t0)
                let base = x.base + o * n * inner + t0
                for j in 0..<width {
                    mean[j] = 0
                    sq[j] = 0
                }
                for c in 0..<n {
                    let row = base + c * inner
                    for j in 0..<width { mean[j] += row[j] }
                }
                for j in 0..<width { mean[j] /= Float(n) }
                for c in 0..<n {
                    let row = base + c * inner
                    for j in 0..<width {
                        let d = row[j] - mean[j]
                        sq[j] += d * d
                    }
                }
                for j in 0..<width { sq[j] = 1 / FloatMath.sqrt(sq[j] / Float(n) + epsilon) }
                for c in 0..<n {
                    let row = base + c * inner
                    let gc = g?.base[c] ?? 1
                    let bc = b?.base[c] ?? 0
                    for j in 0..<width { row[j] = (row[j] - mean[j]) * sq[j] * gc + bc }
                }
            }
        }
    }

    /// x / sqrt(mean(x²) + eps) · gamma over each row of [rows, n].
    static func rmsNorm(_ x: SharedPointer<Float>, rows: Int, n: Int, gamma: Tensor?, epsilon: Float, threads: Int) {
        let g = gamma.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
        defer { withExtendedLifetime(gamma) {} }
        parallelFor(rows, threads: threads, grain: max(1, 16384 / n)) { range in
            for r in range {
                let v = x.base + r * n
                let sq = VectorMath.sumOfSquares(v, n)
                let inv = 1 / FloatMath.sqrt(sq / Float(n) + epsilon)
                if let g {
                    for i in 0..<n { v[i] = v[i] * inv * g.base[i] }
                } else {
                    for i in 0..<n { v[i] *= inv }
                }
            }
        }
    }

    /// Softmax over each row of [rows, n]; with a causal offset c, row r keeps columns 0...(r mod
    /// rowsPerMatrix) + c, so a stack of per-head score matrices is masked head by head.
    static func softmax(
        _ x: SharedPointer<Float>, rows: Int, n: Int, causalOffset: Int?, rowsPerMatrix: Int, threads: Int
    ) {
        parallelFor(rows, threads: threads, grain: max(1, 8192 / n)) { range in
            for r in range {
                let v = x.base + r * n
                let keep = causalOffset.map { min(n, max(0, r % rowsPerMatrix + $0 + 1)) } ?? n
                if keep < n { (v + keep).update(repeating: 0, count: n - keep) }
                guard keep > 0 else { continue }
                let m = VectorMath.max(v, keep)
                for i in 0..<keep { v[i] = VectorMath.exp(v[i] - m) }
                let sum = VectorMath.sum(v, keep)
                let inv = 1 / sum
                for i in 0..<keep { v[i] *= inv }
            }
        }
    }
}
