// Protocol Buffers wire format: https://protobuf.dev/programming-guides/encoding/
//
// Only what ONNX needs: varints, 64-bit, length-delimited and 32-bit fields, packed or unpacked
// repeated scalars. Groups (wire types 3 and 4) are deprecated and never used by ONNX: they are errors.

/// A reader of protobuf fields inside one length-delimited region of a mapped file. Every read is
/// bounded by the region, so a lying length stops at the region's end with a `ModelFileError`.
struct ProtobufReader {
    /// How a field's value is encoded.
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// A field's key: its number, how it is encoded and where its tag starts.
    struct Field {
        let number: Int
        let wireType: WireType
        let offset: Int
    }

    var cursor: ByteCursor

    /// A reader of the bytes `region` of `file`.
    init(_ file: MappedFile, _ region: Range<Int>) {
        cursor = ByteCursor(file, offset: region.lowerBound, end: region.upperBound)
    }

    var file: MappedFile { cursor.file }

    func error(_ kind: ModelFileError.Kind, at offset: Int, _ message: String) -> ModelFileError {
        cursor.error(kind, at: offset, message)
    }

    /// The next field's key, or nil at the end of the region.
    mutating func nextField() throws(ModelFileError) -> Field? {
        guard !cursor.isAtEnd else { return nil }
        let at = cursor.offset
        let key = try varint("field key")
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else {
            throw error(.invalidField, at: at, "protobuf field number \(number) is out of range")
        }
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw error(.invalidField, at: at, "protobuf wire type \(key & 7) (field \(number)) is not supported")
        }
        return Field(number: Int(number), wireType: wireType, offset: at)
    }

    /// Reads a base-128 varint (at most 10 bytes).
    mutating func varint(_ what: @autoclosure () -> String) throws(ModelFileError) -> UInt64 {
        let at = cursor.offset
        let bytes = cursor.file.bytes
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = at
        while true {
            guard i < cursor.end else {
                throw error(.truncated, at: at, "\(what()): varint runs past the end of its message")
            }
            let byte = bytes[i]
            i += 1
            if shift == 63 && byte > 1 {
                throw error(.invalidField, at: at, "\(what()): varint is longer than 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        cursor.offset = i
        return result
    }

    mutating func fixed32(_ what: @autoclosure () -> String) throws(ModelFileError) -> UInt32 {
        try cursor.read(UInt32.self, what())
    }

    mutating func fixed64(_ what: @autoclosure () -> String) throws(ModelFileError) -> UInt64 {
        try cursor.read(UInt64.self, what())
    }

    /// Reads a length prefix and returns the region it delimits, moving past it.
    mutating func lengthDelimited(_ what: @autoclosure () -> String) throws(ModelFileError) -> Range<Int> {
        let at = cursor.offset
        let length = try varint("length of \(what())")
        guard length <= UInt64(cursor.remaining) else {
            throw error(
                .truncated, at: at,
                "\(what()) declares \(length) bytes but only \(cursor.remaining) remain in its message")
        }
        let start = cursor.offset
        cursor.offset += Int(length)
        return start..<cursor.offset
    }

    /// Reads a length-delimited UTF-8 string.
    mutating func string(_ what: @autoclosure () -> String) throws(ModelFileError) -> String {
        let region = try lengthDelimited(what())
        var sub = ByteCursor(cursor.file, offset: region.lowerBound, end: region.upperBound)
        return try sub.string(region.count, what())
    }

    /// Reads a length-delimited `bytes` field as text, replacing invalid UTF-8 (ONNX attribute strings
    /// are `bytes`; a stray byte there should not make a model unreadable).
    mutating func bytesAsText(_ what: @autoclosure () -> String) throws(ModelFileError) -> String {
        let region = try lengthDelimited(what())
        return String(decoding: UnsafeRawBufferPointer(rebasing: cursor.file.bytes[region]), as: UTF8.self)
    }

    /// Skips the value of `field`.
    mutating func skip(_ field: Field) throws(ModelFileError) {
        switch field.wireType {
        case .varint: _ = try varint("field \(field.number)")
        case .fixed64: try cursor.skip(8, "field \(field.number)")
        case .fixed32: try cursor.skip(4, "field \(field.number)")
        case .lengthDelimited: _ = try lengthDelimited("field \(field.number)")
        }
    }

    /// Checks that `field` has `wireType`.
    func expect(_ field: Field, _ wireType: WireType, _ what: @autoclosure () -> String) throws(ModelFileError) {
        guard field.wireType == wireType else {
            throw error(
                .invalidField, at: field.offset,
                "\(what()) (field \(field.number)) has wire type \(field.wireType.rawValue), "
                    + "expected \(wireType.rawValue)")
        }
    }

    // MARK: Fields of a known type

    /// The region of an embedded message (or `bytes`) field.
    mutating func message(_ field: Field, _ what: @autoclosure () -> String) throws(ModelFileError) -> Range<Int> {
        try expect(field, .lengthDelimited, what())
        return try lengthDelimited(what())
    }

    /// A `string` field (UTF-8, checked).
    mutating func string(_ field: Field, _ what: @autoclosure () -> String) throws(ModelFileError) -> String {
        try expect(field, .lengthDelimited, what())
        return try string(what())
    }

    /// A `bytes` field read as text (see `bytesAsText(_:)`).
    mutating func text(_ field: Field, _ what: @autoclosure () -> String) throws(ModelFileError) -> String {
        try expect(field, .lengthDelimited, what())
        return try bytesAsText(what())
    }

    /// An `int64`/`int32`/`enum` field (two's complement in a varint).
    mutating func int64(_ field: Field, _ what: @autoclosure () -> String) throws(ModelFileError) -> Int64 {
        try expect(field, .varint, what())
        return Int64(bitPattern: try varint(what()))
    }

    /// A `float` field.
    mutating func float(_ field: Field, _ what: @autoclosure () -> String) throws(ModelFileError) -> Float {
        try expect(field, .fixed32, what())
        return Float(bitPattern: try fixed32(what()))
    }

    // MARK: Repeated scalars, packed or not

    /// Skips one occurrence of a repeated scalar field and returns how many values it held: 1 when
    /// unpacked, the run's length when packed (`width` bytes each, or varints for `width` nil).
    mutating func skipCountingValues(_ field: Field, width: Int?, _ what: @autoclosure () -> String)
        throws(ModelFileError) -> Int
    {
        switch (field.wireType, width) {
        case (.lengthDelimited, let width?):
            let region = try lengthDelimited(what())
            guard region.count % width == 0 else {
                throw error(
                    .invalidField, at: field.offset,
                    "\(what()): \(region.count) packed bytes are not a whole number of \(width)-byte values")
            }
            return region.count / width
        case (.lengthDelimited, nil):
            // Every varint ends with exactly one byte below 0x80; decoding checks the rest later.
            let region = try lengthDelimited(what())
            var count = 0
            for byte in UnsafeRawBufferPointer(rebasing: cursor.file.bytes[region]) where byte < 0x80 { count += 1 }
            return count
        case (.varint, nil), (.fixed32, 4), (.fixed64, 8):
            try skip(field)
            return 1
        default:
            throw error(
                .invalidField, at: field.offset,
                "\(what()) (field \(field.number)) has the wrong wire type \(field.wireType.rawValue)")
        }
    }

    /// Appends the values of a repeated varint field: one value (unpacked) or a packed run.
    mutating func appendVarints(_ field: Field, to values: inout [Int64], _ what: @autoclosure () -> String)
        throws(ModelFileError)
    {
        switch field.wireType {
        case .varint: values.append(Int64(bitPattern: try varint(what())))
        case .lengthDelimited:
            var packed = ProtobufReader(cursor.file, try lengthDelimited(what()))
            while !packed.cursor.isAtEnd { values.append(Int64(bitPattern: try packed.varint(what()))) }
        default: try expect(field, .varint, what())
        }
    }

    /// Appends the values of a repeated `float` field: one value (unpacked) or a packed run.
    mutating func appendFloats(_ field: Field, to values: inout [Float], _ what: @autoclosure () -> String)
        throws(ModelFileError)
    {
        switch field.wireType {
        case .fixed32: values.append(Float(bitPattern: try fixed32(what())))
        case .lengthDelimited:
            let region = try lengthDelimited(what())
            guard region.count % 4 == 0 else {
                throw error(.invalidField, at: field.offset, "\(what()): packed floats take \(region.count) bytes")
            }
            var packed = ByteCursor(cursor.file, offset: region.lowerBound, end: region.upperBound)
            while !packed.isAtEnd { values.append(try packed.readFloat(what())) }
        default: try expect(field, .fixed32, what())
        }
    }
}
