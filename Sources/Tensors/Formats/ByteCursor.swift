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

    /// A cursor over `file` from `offset` up to `end` (the end of the file by default).
    public init(_ file: MappedFile, offset: Int = 0, end: Int? = nil) {
        self.file = file
        self.offset = offset
        self.end = end ?? file.bytes.count
    }

    /// Bytes left before `end`.
    public var remaining: Int { end - offset }
    /// Whether no bytes remain.
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

    /// Reads a little-endian IEEE 754 single.
    public mutating func readFloat(_ what: @autoclosure () -> String) throws(ModelFileError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    /// Reads a little-endian IEEE 754 double.
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

extension ByteCursor {
    /// An error at `offset` (the start of the field at fault, which the cursor may have passed).
    public func error(_ kind: ModelFileError.Kind, at offset: Int, _ message: String) -> ModelFileError {
        ModelFileError(kind, file: file.path, offset: offset, message)
    }

    /// Reads a count or length of type `T` and checks that `count` items of at least `minimumSize` bytes
    /// each fit in what remains, before anyone allocates for them: a lying count becomes a `.truncated`
    /// error at the count's offset, never a huge allocation or an `Int` conversion trap.
    public mutating func readCount<T: FixedWidthInteger & UnsignedInteger>(
        _: T.Type, minimumSize: Int, _ what: @autoclosure () -> String
    ) throws(ModelFileError) -> Int {
        let start = offset
        let raw = try read(T.self, what())
        let limit = UInt64(remaining / max(minimumSize, 1))
        guard UInt64(raw) <= limit else {
            throw error(
                .truncated, at: start,
                "\(what()) declares \(raw) items of at least \(minimumSize) bytes but only \(remaining) bytes remain")
        }
        return Int(raw)  // ≤ remaining, so it fits
    }

    /// Advances past `count` bytes.
    public mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws(ModelFileError) {
        try require(count, what())
        offset += count
    }
}

/// Whether `bytes` are well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or values past
/// U+10FFFF). Allocates nothing, so readers can check a million short strings and build them lazily.
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return false
        }
        guard n - i >= length else { return false }
        let b1 = bytes[i + 1]
        guard b1 >= low && b1 <= high else { return false }
        for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return false }
        i += length
    }
    return true
}
