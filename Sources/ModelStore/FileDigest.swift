import Crypto
import Foundation

/// SHA-256 of files, read in fixed-size chunks so a 100 MB model never sits in memory at once.
public enum FileDigest {
    /// The default chunk size: 1 MiB.
    public static let defaultChunkSize = 1 << 20

    /// The sha256 of the file's contents as 64 lowercase hex digits.
    ///
    /// - Throws: `ModelStoreError` with code `.unreadableFile` when the file cannot be opened or read.
    public static func sha256(of url: URL, chunkSize: Int = defaultChunkSize) throws(ModelStoreError) -> String {
        precondition(chunkSize > 0, "chunkSize must be positive")
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            var hasher = SHA256()
            while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty {
                hasher.update(data: chunk)
            }
            return hex(hasher.finalize())
        } catch {
            throw .unreadableFile(url, cause: error)
        }
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(SHA256.Digest.byteCount * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
