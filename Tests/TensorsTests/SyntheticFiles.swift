@testable import Tensors

/// Builds little-endian binary files byte by byte (tiny model.bin and GGUF files for the tests).
struct ByteWriter {
    var bytes: [UInt8] = []

    /// Current length: the offset the next write lands at.
    var offset: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { append(v) }
    mutating func u32(_ v: UInt32) { append(v) }
    mutating func u64(_ v: UInt64) { append(v) }
    mutating func i32(_ v: Int32) { append(v) }
    mutating func f32(_ v: Float) { append(v.bitPattern) }
    mutating func f64(_ v: Double) { append(v.bitPattern) }
    mutating func raw(_ v: [UInt8]) { bytes += v }
    mutating func raw(_ s: String) { bytes += Array(s.utf8) }
    mutating func floats(_ vs: [Float]) { for v in vs { f32(v) } }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
    }

    /// The bytes as an in-memory file named `name`.
    func file(_ name: String) -> MappedFile { MappedFile(bytes: bytes, path: name) }
}

/// Builds protobuf messages field by field (tiny ONNX models for the tests).
struct ProtobufWriter {
    var bytes: [UInt8] = []

    var offset: Int { bytes.count }

    static func varintBytes(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    mutating func tag(_ field: Int, _ wireType: Int) { bytes += Self.varintBytes(UInt64(field << 3 | wireType)) }

    mutating func varint(_ field: Int, _ value: Int64) {
        tag(field, 0)
        bytes += Self.varintBytes(UInt64(bitPattern: value))
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        tag(field, 5)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, 1)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ value: Float) { fixed32(field, value.bitPattern) }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        bytes += Self.varintBytes(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    /// A packed run of varints.
    mutating func packedVarints(_ field: Int, _ values: [Int64]) {
        bytes(field, values.flatMap { Self.varintBytes(UInt64(bitPattern: $0)) })
    }

    /// A packed run of 32-bit floats.
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var raw: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        bytes(field, raw)
    }

    func file(_ name: String) -> MappedFile { MappedFile(bytes: bytes, path: name) }
}

/// Little-endian bytes of an integer.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian, Array.init)
}

/// Little-endian bytes of float values.
func floatBytes(_ values: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
    return out
}

/// Runs `open` on `file`; returns the error it throws (nil if it parsed).
func modelFileError<T>(_ file: MappedFile, _ open: (MappedFile) throws(ModelFileError) -> T) -> ModelFileError? {
    do {
        _ = try open(file)
        return nil
    } catch {
        return error
    }
}
