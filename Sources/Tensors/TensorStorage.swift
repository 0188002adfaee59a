/// Contiguous bytes behind one or more tensors: either memory this process allocated, or a slice of a
/// mapped model file (read-only, zero copy).
///
/// `Tensor` gives this reference type value semantics by copying before it writes into storage that
/// is shared or read-only.
public final class TensorStorage: @unchecked Sendable {
    // @unchecked: writes happen only through `Tensor`'s copy-on-write path, on a uniquely held storage.

    /// Start of the bytes; 64-byte aligned when allocated here.
    public let base: UnsafeMutableRawPointer
    /// Number of bytes.
    public let byteCount: Int
    /// Whether the bytes belong to a mapped file (never written).
    public var isReadOnly: Bool { owner != nil }
    private let owner: MappedFile?

    /// Allocates `byteCount` zeroed bytes.
    public init(zeroedBytes byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    /// Allocates `byteCount` bytes without initialising them (the caller writes all of them).
    public init(uninitializedBytes byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        owner = nil
    }

    /// Views `count` bytes of `file` starting at `offset` (bounds already checked by the reader).
    public init(file: MappedFile, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= file.bytes.count)
        owner = file
        byteCount = count
        let start = file.bytes.baseAddress.map { $0 + offset } ?? UnsafeRawPointer(bitPattern: 64)!
        base = UnsafeMutableRawPointer(mutating: start)
    }

    deinit {
        if owner == nil { base.deallocate() }
    }
}
