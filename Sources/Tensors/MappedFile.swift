#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors read from it share the mapping (zero copy) and
/// keep it alive; it is unmapped when the last of them goes away.
///
/// Besides real files, a `MappedFile` can hold bytes made in memory (synthetic files in tests), be a
/// shorter view of another one (a truncated file, without copying) or a private, patched mapping of a
/// file on disk (a corrupted file, copying only the pages that change). Readers see no difference.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: the bytes are read-only and never change after init.

    /// Path the file was opened from (for in-memory files: the name errors use).
    public let path: String
    /// The mapped bytes (empty for an empty file).
    /// - Important: valid only while this object lives. Swift may release an object right after its
    ///   last use, so `MappedFile(path: p).bytes[i]` can read unmapped memory: keep the file in a
    ///   variable that is used after the read, or read inside `withExtendedLifetime(file)`.
    public let bytes: UnsafeRawBufferPointer
    /// Who releases the bytes.
    private let owner: Owner

    private enum Owner {
        /// An `mmap` of the file, unmapped in deinit.
        case mapping
        /// Memory allocated by `init(bytes:path:)`, deallocated in deinit.
        case allocation
        /// Bytes of another file, kept alive by this reference.
        case view(MappedFile)
        /// Nothing to release (an empty file).
        case none
    }

    /// Maps `path` read-only.
    /// - Throws: `ModelFileError` of kind `.unreadable` when the file cannot be opened or mapped.
    public init(path: String) throws(ModelFileError) {
        self.path = path
        (bytes, owner) = try MappedFile.map(path: path, writable: false) { _ in }
    }

    /// Maps `path` privately (copy on write) and lets `body` change the mapped bytes before they become
    /// read-only. The file on disk is never changed; only the pages `body` writes are copied.
    ///
    /// Meant for fault-injection tests: corrupting a few bytes of a 100 MB model costs a page, not a copy.
    /// - Throws: `ModelFileError` of kind `.unreadable` when the file cannot be opened or mapped.
    public init(path: String, modifying body: (UnsafeMutableRawBufferPointer) -> Void) throws(ModelFileError) {
        self.path = path
        (bytes, owner) = try MappedFile.map(path: path, writable: true, body: body)
    }

    /// An in-memory file holding a copy of `contents`, named `path` in errors. The copy is 64-byte
    /// aligned, as a mapping is page aligned, so alignment-dependent behaviour matches a real file.
    public init(bytes contents: [UInt8], path: String) {
        self.path = path
        guard !contents.isEmpty else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            owner = .none
            return
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: contents.count, alignment: 64)
        contents.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        bytes = UnsafeRawBufferPointer(start: memory, count: contents.count)
        owner = .allocation
    }

    private init(viewOf file: MappedFile, count: Int) {
        path = file.path
        bytes = UnsafeRawBufferPointer(rebasing: file.bytes[0..<count])
        owner = .view(file)
    }

    /// The first `count` bytes of this file as a file of its own, sharing this one's memory: a truncated
    /// copy for testing readers, made without copying. `count` is clamped to `0...bytes.count`.
    public func prefix(_ count: Int) -> MappedFile {
        MappedFile(viewOf: self, count: min(max(count, 0), bytes.count))
    }

    deinit {
        switch owner {
        case .mapping:
            if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
        case .allocation:
            bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() }
        case .view, .none:
            break
        }
    }

    /// Opens and maps `path` (privately writable while `body` runs, when given), then seals it read-only.
    private static func map(
        path: String, writable: Bool, body: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(ModelFileError) -> (UnsafeRawBufferPointer, Owner) {
        func failure(_ message: String) -> ModelFileError {
            ModelFileError(.unreadable, file: path, offset: 0, message)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw failure("not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else { return (UnsafeRawBufferPointer(start: nil, count: 0), .none) }
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        guard let base = mmap(nil, size, protection, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw failure(String(cString: strerror(errno)))
        }
        if writable {
            body(UnsafeMutableRawBufferPointer(start: base, count: size))
            guard mprotect(base, size, PROT_READ) == 0 else {
                let message = String(cString: strerror(errno))
                munmap(base, size)
                throw failure(message)
            }
        }
        return (UnsafeRawBufferPointer(start: base, count: size), .mapping)
    }
}
