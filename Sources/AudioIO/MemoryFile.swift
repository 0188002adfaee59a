// MemoryFile: a growable, seekable byte buffer that libsndfile reads and writes through sf_open_virtual.

import CSndFile

/// Bytes in memory that libsndfile treats as a file (`SF_VIRTUAL_IO`): reads, writes past the end (growing it),
/// seeks and tells, like a regular file.
///
/// Used only for the duration of one `sf_open_virtual` … `sf_close`; libsndfile gets an unretained pointer to it,
/// so the caller keeps it alive across that span (`withExtendedLifetime`).
final class MemoryFile {
    /// The file's contents.
    var bytes: [UInt8]
    /// Where the next read or write starts.
    var position = 0

    init(bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    /// The callbacks that route libsndfile's file operations to a `MemoryFile` passed as `user_data`.
    static let callbacks = SF_VIRTUAL_IO(
        get_filelen: { user in sf_count_t(MemoryFile.from(user).bytes.count) },
        seek: { offset, whence, user in
            let file = MemoryFile.from(user)
            let base: Int
            switch whence {
            case SEEK_SET: base = 0
            case SEEK_CUR: base = file.position
            case SEEK_END: base = file.bytes.count
            default: return -1
            }
            let target = base + Int(offset)
            guard target >= 0 else { return -1 }
            file.position = target
            return sf_count_t(target)
        },
        read: { destination, count, user in
            let file = MemoryFile.from(user)
            guard let destination, count > 0, file.position < file.bytes.count else { return 0 }
            let n = min(Int(count), file.bytes.count - file.position)
            file.bytes.withUnsafeBytes { source in
                destination.copyMemory(from: source.baseAddress! + file.position, byteCount: n)
            }
            file.position += n
            return sf_count_t(n)
        },
        write: { source, count, user in
            let file = MemoryFile.from(user)
            guard let source, count > 0 else { return 0 }
            let n = Int(count)
            let end = file.position + n
            if end > file.bytes.count { file.bytes.append(contentsOf: repeatElement(0, count: end - file.bytes.count)) }
            file.bytes.withUnsafeMutableBytes { destination in
                (destination.baseAddress! + file.position).copyMemory(from: source, byteCount: n)
            }
            file.position = end
            return count
        },
        tell: { user in sf_count_t(MemoryFile.from(user).position) })

    private static func from(_ user: UnsafeMutableRawPointer?) -> MemoryFile {
        Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue()
    }

    /// The pointer to hand libsndfile as `user_data` (unretained: keep `self` alive while libsndfile uses it).
    var userData: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
}
