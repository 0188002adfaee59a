/// exp, tanh and erf written as branch-free float arithmetic, so loops over them vectorise: libm's scalar
/// calls cost more than the memory traffic of softmax, GELU and SiLU.
///
/// exp follows Cephes' `expf` (range reduction by ln 2 in two parts, degree-6 polynomial; within
/// 2 ulp on [−87, 88]; rounding by the 1.5·2²³ trick so no libm call remains); erf uses Numerical
/// Recipes' `erfcc` Chebyshev fit (fractional error of erfc below 1.2e-7). The parity harness checks
/// both against Double-precision libm.
enum VectorMath {
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.3), 88.7)
        let shifted = clamped * 1.442_695_04 + 12_582_912  // 1.5 · 2²³: rounds to the nearest integer
        let n = shifted - 12_582_912
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p: Float = 1.987_569_150_0e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * r * r + r + 1
        let exponent = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23
        let result = p * Float(bitPattern: UInt32(bitPattern: exponent))
        return x < -87.3 ? 0 : result
    }

    /// tanh without libm (whose tanhf goes through a scalar expm1f): (1 − e^(−2|x|)) / (1 + e^(−2|x|)) with the
    /// sign put back, and below |x| = 0.5, where that difference cancels, the odd Taylor series to x¹³
    /// (truncation below 5e-8 there). Both sides are computed and one is selected, so loops vectorise.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let z = Swift.abs(x)
        let t = exp(-2 * z)
        let far = (1 - t) / (1 + t)
        let z2 = z * z
        var p: Float = 21844.0 / 6_081_075
        p = p * z2 - 1382.0 / 155_925
        p = p * z2 + 62.0 / 2835
        p = p * z2 - 17.0 / 315
        p = p * z2 + 2.0 / 15
        p = p * z2 - 1.0 / 3
        let near = z + z * z2 * p
        let magnitude = z < 0.5 ? near : far
        return x < 0 ? -magnitude : magnitude
    }

    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let z = Swift.abs(x)
        let t = 1 / (1 + 0.5 * z)
        var q: Float = 0.170_872_77
        q = q * t - 0.822_152_23
        q = q * t + 1.488_515_87
        q = q * t - 1.135_203_98
        q = q * t + 0.278_868_07
        q = q * t - 0.186_288_06
        q = q * t + 0.096_784_18
        q = q * t + 0.374_091_96
        q = q * t + 1.000_023_68
        q = q * t - 1.265_512_23
        let magnitude = 1 - t * exp(q - z * z)
        return x < 0 ? -magnitude : magnitude
    }
}

/// Reductions with eight independent lanes: strict IEEE order keeps the compiler from vectorising a
/// scalar sum, so these spell the lanes out (and so round differently from a sequential sum, well
/// within the parity tolerances).
extension VectorMath {
    typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Lanes(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self)
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += p[i]
            i += 1
        }
        return s
    }

    /// Σ (p[i] − center)².
    @inline(__always)
    static func sumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, center: Float = 0) -> Float {
        var acc = Lanes(repeating: 0)
        let c = Lanes(repeating: center)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self) - c
            acc += d * d
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += (p[i] - center) * (p[i] - center)
            i += 1
        }
        return s
    }

    @inline(__always)
    static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Lanes(repeating: -.infinity)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            acc = pointwiseMax(acc, raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self))
            i += 8
        }
        var m = acc.max()
        while i < n {
            m = Swift.max(m, p[i])
            i += 1
        }
        return m
    }
}
