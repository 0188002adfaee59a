// POSIX: the few system calls AudioIO makes itself (read, write, fsync, rename), each retried on EINTR and
// converted to a value once, in the style of swift-nio's `syscall` wrapper.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An `errno` value from a failed system call, with the call's name.
struct SystemCallError: Error, Sendable, CustomStringConvertible {
    /// The `errno` value.
    var code: Int32
    /// The system call that failed.
    var function: String

    /// `strerror`'s text for the code.
    var reason: String { String(cString: strerror(code)) }

    var description: String { "\(function): \(reason)" }
}

/// Thin wrappers over system calls: each retries on `EINTR` and throws `SystemCallError` on failure.
enum POSIX {
    /// Runs `body` (a system call returning -1 and setting `errno` on failure), retrying while it fails with EINTR.
    @discardableResult
    static func call<T: FixedWidthInteger>(_ function: String, _ body: () -> T) throws(SystemCallError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemCallError(code: code, function: function)
        }
    }

    /// Writes all of `bytes` to `descriptor`, looping over short writes: at the file offset (`write`), or at
    /// `position` without moving the offset (`pwrite`).
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], at position: Int? = nil) throws(SystemCallError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SystemCallError) in
                var offset = 0
                while offset < raw.count {
                    let start = raw.baseAddress! + offset
                    let count = raw.count - offset
                    if let position {
                        offset += try call("pwrite") { pwrite(descriptor, start, count, off_t(position + offset)) }
                    } else {
                        offset += try call("write") { write(descriptor, start, count) }
                    }
                }
            }
        }
        try result.get()
    }

    /// Reads `descriptor` to its end.
    static func readAll(_ descriptor: Int32) throws(SystemCallError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let result = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(SystemCallError) in
                    try call("read") { read(descriptor, raw.baseAddress, raw.count) }
                }
            }
            let count = try result.get()
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes `bytes` to `path` so that `path` either keeps its old contents or holds all of `bytes`: the bytes go
    /// to a temporary file beside it, which is flushed to disk and then renamed over `path`.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SystemCallError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = "\(directory).\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).partial"
        let descriptor = try call("open") { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666) }
        var failure: SystemCallError?
        do {
            try writeAll(descriptor, bytes)
            try call("fsync") { fsync(descriptor) }
        } catch {
            failure = error
        }
        // close is never retried: on Linux the descriptor is gone even when it reports EINTR.
        if close(descriptor) != 0, failure == nil { failure = SystemCallError(code: errno, function: "close") }
        if failure == nil {
            do { try call("rename") { rename(temporary, path) } } catch { failure = error }
        }
        if let failure {
            _ = unlink(temporary)
            throw failure
        }
    }
}
