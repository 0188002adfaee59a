import Tensors

/// y[i, j] = Σ_k W[j, k] · x[i, k] (+ bias[j]) for a few rows of x and an f16 W, converting W eight
/// values at a time (F16C on x86, FCVT on ARM) while it streams from memory once per row of x.
enum HalfMatrixVector {
    static func run(
        w: UnsafePointer<Float16>, rows n: Int, cols k: Int, x: UnsafePointer<Float>, count m: Int, bias: Tensor?,
        y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let ws = SharedPointer(w)
        let xs = SharedPointer(x)
        let ys = SharedPointer(y)
        let bs = bias.map { SharedPointer($0.withUnsafeFloats { $0.baseAddress! }) }
        defer { withExtendedLifetime(bias) {} }
        parallelFor(n, threads: threads, grain: streamingGrain(bytesPerItem: k * 2, minimum: 256)) { range in
            let wraw = UnsafeRawPointer(ws.base)
            let xraw = UnsafeRawPointer(xs.base)
            for j in range {
                let row = j * k
                for i in 0..<m {
                    var a0 = SIMD8<Float>(repeating: 0)
                    var a1 = SIMD8<Float>(repeating: 0)
                    var c = 0
                    while c + 16 <= k {
                        let w0 = SIMD8<Float>(
                            wraw.loadUnaligned(fromByteOffset: (row + c) * 2, as: SIMD8<Float16>.self))
                        let w1 = SIMD8<Float>(
                            wraw.loadUnaligned(fromByteOffset: (row + c + 8) * 2, as: SIMD8<Float16>.self))
                        a0 += w0 * xraw.loadUnaligned(fromByteOffset: (i * k + c) * 4, as: SIMD8<Float>.self)
                        a1 += w1 * xraw.loadUnaligned(fromByteOffset: (i * k + c + 8) * 4, as: SIMD8<Float>.self)
                        c += 16
                    }
                    var sum = (a0 + a1).sum()
                    while c < k {
                        sum += Float(ws.base[row + c]) * xs.base[i * k + c]
                        c += 1
                    }
                    ys.base[i * n + j] = sum + (bs?.base[j] ?? 0)
                }
            }
        }
    }
}
