/// A bounds-checked little-endian reader over a mapped file. Every read checks the bytes it needs
/// against what is left, so a truncated file or a lying length field becomes a `ModelFileError`
/// naming the file and the offset, never a crash or an unbounded allocation.
public struct ByteCursor {
    /// The file being read (errors name it).
    public let file: MappedFile
    /// Current position, from the start of the file.
    public var offset: Int
    /// End of the readable region (exclusive).
    public let end: Int

    public init(_ file: MappedFile, offset: Int = 0, end: Int? = nil) {
        self.file = file
        self.offset = offset
        self.end = end ?? file.bytes.count
    }

    /// Bytes left before `end`.
    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    /// An error at the current offset.
    public func error(_ kind: ModelFileError.Kind, _ message: String) -> ModelFileError {
        ModelFileError(kind, file: file.path, offset: offset, message)
    }

    /// Checks that `count` more bytes exist; `what` names the structure for the error message.
    public func require(_ count: Int, _ what: @autoclosure () -> String) throws(ModelFileError) {
        guard count >= 0, count <= remaining else {
            throw error(.truncated, "\(what()) needs \(count) bytes but only \(remaining) remain")
        }
    }

    /// Reads a little-endian fixed-width integer.
    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(ModelFileError)
        -> T
    {
        try require(MemoryLayout<T>.size, what())
        let v = T(littleEndian: file.bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    public mutating func readFloat(_ what: @autoclosure () -> String) throws(ModelFileError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    public mutating func readDouble(_ what: @autoclosure () -> String) throws(ModelFileError) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// Returns the next `count` bytes and advances past them.
    public mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(ModelFileError)
        -> UnsafeRawBufferPointer
    {
        try require(count, what())
        let slice = UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Reads `count` bytes as UTF-8 text; invalid UTF-8 is an error.
    public mutating func string(_ count: Int, _ what: @autoclosure () -> String) throws(ModelFileError) -> String {
        let start = offset
        let raw = try bytes(count, what())
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw ModelFileError(.invalidField, file: file.path, offset: start, "\(what()) is not valid UTF-8")
        }
        return s
    }

    /// Moves to an absolute offset within the readable region.
    public mutating func seek(to position: Int, _ what: @autoclosure () -> String) throws(ModelFileError) {
        guard position >= 0, position <= end else {
            throw error(.truncated, "\(what()) at offset \(position) lies beyond the end (\(end))")
        }
        offset = position
    }
}
