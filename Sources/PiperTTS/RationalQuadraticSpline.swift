// The inverse of the monotonic rational-quadratic spline with linear tails that VITS's ConvFlow uses in its
// stochastic duration predictor (Durkan et al., "Neural Spline Flows"), as piper_train/vits/transforms.py
// implements it (`unconstrained_rational_quadratic_spline`, `rational_quadratic_spline`, inverse = True), in
// float32 and in the same order of operations, so the duration ceilings land where onnxruntime's do.
//
// Shapes: K = bins. Per element: K unnormalized widths, K heights, K − 1 inner derivatives.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One inverse spline evaluation per element, with transforms.py's defaults.
struct RationalQuadraticSpline {
    /// Inputs outside [−tailBound, tailBound] pass through unchanged (linear tails).
    var tailBound: Float = 5
    var minBinWidth: Float = 1e-3
    var minBinHeight: Float = 1e-3
    var minDerivative: Float = 1e-3
    let bins: Int

    /// The unnormalized outer derivatives, log(exp(1 − minDerivative) − 1), so the tails join with slope 1.
    private var edgeDerivative: Float { Float(log(exp(1 - Double(minDerivative)) - 1)) }

    /// x such that spline(x) = `y`, the spline given by unnormalized `widths` and `heights` (K each, contiguous)
    /// and inner `derivatives` (K − 1, `derivativeStride` floats apart).
    func inverse(
        _ y: Float, widths: UnsafePointer<Float>, heights: UnsafePointer<Float>, derivatives: UnsafePointer<Float>,
        derivativeStride: Int
    ) -> Float {
        guard y >= -tailBound && y <= tailBound else { return y }
        let k = bins
        let (left, right, bottom, top) = (-tailBound, tailBound, -tailBound, tailBound)
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * (k + 1)) { scratch in
            let cumWidths = scratch.baseAddress!
            let cumHeights = cumWidths + (k + 1)
            let slopes = cumHeights + (k + 1)
            let softmax = slopes + (k + 1)
            knots(widths, k, minBinWidth, left, right, softmax, into: cumWidths)
            knots(heights, k, minBinHeight, bottom, top, softmax, into: cumHeights)
            let edge = edgeDerivative
            for i in 0...k {
                let u = i == 0 || i == k ? edge : derivatives[(i - 1) * derivativeStride]
                slopes[i] = minDerivative + softplus(u)
            }

            // searchsorted on the heights with the last knot nudged up by 1e-6, as transforms.py does.
            var bin = -1
            for i in 0...k {
                let knot = i == k ? cumHeights[k] + 1e-6 : cumHeights[i]
                if y >= knot { bin += 1 }
            }
            bin = min(max(bin, 0), k - 1)

            let inputCumWidth = cumWidths[bin]
            let binWidth = cumWidths[bin + 1] - cumWidths[bin]
            let inputCumHeight = cumHeights[bin]
            let binHeight = cumHeights[bin + 1] - cumHeights[bin]
            let delta = binHeight / binWidth
            let d0 = slopes[bin]
            let d1 = slopes[bin + 1]

            let offset = y - inputCumHeight
            let curvature = d0 + d1 - 2 * delta
            let a = offset * curvature + binHeight * (delta - d0)
            let b = binHeight * d0 - offset * curvature
            let c = -delta * offset
            let discriminant = max(b * b - 4 * a * c, 0)
            let root = (2 * c) / (-b - discriminant.squareRoot())
            return root * binWidth + inputCumWidth
        }
    }

    /// Knot positions (K + 1) from K unnormalized sizes: softmax, a floor of `minimum` per bin, cumulative sum,
    /// scaled to [lower, upper] with the ends pinned.
    private func knots(
        _ raw: UnsafePointer<Float>, _ k: Int, _ minimum: Float, _ lower: Float, _ upper: Float,
        _ scratch: UnsafeMutablePointer<Float>, into knots: UnsafeMutablePointer<Float>
    ) {
        var largest = -Float.infinity
        for i in 0..<k { largest = max(largest, raw[i]) }
        var sum: Float = 0
        for i in 0..<k {
            scratch[i] = expf(raw[i] - largest)
            sum += scratch[i]
        }
        let spread = 1 - minimum * Float(k)
        var cumulative: Float = 0
        knots[0] = lower
        for i in 0..<k {
            cumulative += minimum + spread * (scratch[i] / sum)
            knots[i + 1] = (upper - lower) * cumulative + lower
        }
        knots[k] = upper
    }

    /// log(1 + eˣ) without overflow.
    private func softplus(_ x: Float) -> Float {
        x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
    }
}
