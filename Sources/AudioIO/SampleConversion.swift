// SampleConversion: float <-> 16-bit integer samples, with one scale (32768) used by files and devices alike.

/// Converts between float samples and signed 16-bit samples.
///
/// Both directions use the scale 32768 (`Float(s) / 32768` and back), so every 16-bit value survives a round trip
/// exactly. Floats outside [-1, 1) clip to the 16-bit range; NaN becomes 0. (libsndfile's own float writer scales
/// by 32767 while its reader divides by 32768, which would shift samples by one step; that is why AudioIO converts
/// itself and hands libsndfile integers.)
enum SampleConversion {
    /// `Float(s) / 32768`.
    static let scale: Float = 32768

    /// One float sample as a clipped, rounded 16-bit sample.
    @inline(__always)
    static func int16(_ sample: Float) -> Int16 {
        let scaled = (sample * scale).rounded()
        // NaN fails both comparisons and becomes 0 below.
        if scaled >= 32767 { return .max }
        if scaled <= -32768 { return .min }
        return scaled.isNaN ? 0 : Int16(scaled)
    }

    /// One 16-bit sample as a float in [-1, 1).
    @inline(__always)
    static func float(_ sample: Int16) -> Float { Float(sample) / scale }

    /// `samples` as 16-bit samples.
    static func int16(_ samples: [Float]) -> [Int16] {
        [Int16](unsafeUninitializedCapacity: samples.count) { destination, count in
            samples.withUnsafeBufferPointer { source in
                for i in 0..<source.count { destination[i] = int16(source[i]) }
            }
            count = samples.count
        }
    }

    /// `samples` as signed 16-bit little-endian bytes (WAV data, ALSA's S16_LE).
    static func littleEndianBytes(_ samples: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: samples.count * 2) { destination, count in
            samples.withUnsafeBufferPointer { source in
                for i in 0..<source.count {
                    let value = UInt16(bitPattern: int16(source[i]))
                    destination[2 * i] = UInt8(truncatingIfNeeded: value)
                    destination[2 * i + 1] = UInt8(truncatingIfNeeded: value >> 8)
                }
            }
            count = samples.count * 2
        }
    }

    /// `samples` as floats.
    static func float(_ samples: UnsafeBufferPointer<Int16>) -> [Float] {
        [Float](unsafeUninitializedCapacity: samples.count) { destination, count in
            for i in 0..<samples.count { destination[i] = float(samples[i]) }
            count = samples.count
        }
    }
}
