// Raw PCM as Wyoming's audio-chunk payloads carry it (rhasspy/wyoming wyoming/audio.py: interleaved little-endian
// integers, `width` bytes per sample, 1 = unsigned 8-bit as in WAV) and as OpenAI's `pcm` speech format streams it
// (16-bit little-endian mono).

/// Conversions between float samples and raw little-endian PCM.
enum PCMCodec {
    /// Interleaved integer PCM of `width` bytes per sample to floats in [−1, 1), averaged to mono.
    /// - Throws: `ServerError.badRequest` for a width other than 1…4, no channels, or bytes that do not fill frames.
    static func monoFloats(_ bytes: [UInt8], width: Int, channels: Int) throws(ServerError) -> [Float] {
        guard (1...4).contains(width) else { throw .badRequest("audio width must be 1 to 4 bytes, got \(width)") }
        guard (1...64).contains(channels) else { throw .badRequest("audio channels must be 1 to 64, got \(channels)") }
        let frameBytes = width * channels
        guard bytes.count % frameBytes == 0 else {
            throw .badRequest("\(bytes.count) bytes of audio do not fill \(channels)-channel frames of width \(width)")
        }
        let frames = bytes.count / frameBytes
        let scale = 1 / Float(channels)
        return bytes.withUnsafeBufferPointer { b in
            (0..<frames).map { f in
                var sum: Float = 0
                for c in 0..<channels {
                    let o = f * frameBytes + c * width
                    switch width {
                    case 1: sum += (Float(b[o]) - 128) / 128
                    case 2: sum += Float(Int16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8)) / 32768
                    case 3:
                        let u = UInt32(b[o]) << 8 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 24
                        sum += Float(Int32(bitPattern: u) >> 8) / 8_388_608
                    default:
                        let u = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
                        sum += Float(Int32(bitPattern: u)) / 2_147_483_648
                    }
                }
                return sum * scale
            }
        }
    }

    /// Floats as signed 16-bit little-endian bytes, with AudioIO's rule (scale 32768, rounded, clipped, NaN → 0),
    /// so the bytes equal the samples of a WAV file of the same audio.
    static func int16LittleEndian(_ samples: some Collection<Float>) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples {
            let scaled = (sample * 32768).rounded()
            let value: Int16 = scaled >= 32767 ? .max : scaled <= -32768 ? .min : scaled.isNaN ? 0 : Int16(scaled)
            let u = UInt16(bitPattern: value)
            bytes.append(UInt8(truncatingIfNeeded: u))
            bytes.append(UInt8(truncatingIfNeeded: u >> 8))
        }
        return bytes
    }
}
