import CZlib

/// zlib, for measures that are defined through it (Whisper's compression-ratio check on decoded text).
public enum Zlib {
    /// Bytes `data` takes once compressed with zlib's default level (`zlib.compress(data)` in Python).
    public static func compressedSize(of data: [UInt8]) -> Int {
        var destination = [UInt8](repeating: 0, count: Int(compressBound(uLong(data.count))))
        var length = uLongf(destination.count)
        let status = data.withUnsafeBufferPointer { source in
            destination.withUnsafeMutableBufferPointer { out in
                compress2(out.baseAddress, &length, source.baseAddress, uLong(source.count), Z_DEFAULT_COMPRESSION)
            }
        }
        // compress2 fails only for lack of memory or a too small buffer, neither possible with compressBound.
        return status == Z_OK ? Int(length) : data.count
    }
}
