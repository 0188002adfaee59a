import Tensors

/// A GGUF (version 3) written field by field, for tests that build small files by hand.
struct GGUFWriter {
    private(set) var bytes: [UInt8] = []

    /// Starts the file: magic, version 3, tensor and metadata counts.
    init(tensors: Int, metadata: Int) {
        bytes += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors))
        u64(UInt64(metadata))
    }

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += s.utf8
    }
    /// A metadata entry holding a string (type 8).
    mutating func entry(_ key: String, string value: String) {
        string(key)
        u32(8)
        string(value)
    }
    /// A metadata entry holding a u32 (type 4).
    mutating func entry(_ key: String, u32 value: UInt32) {
        string(key)
        u32(4)
        u32(value)
    }
    mutating func append(_ raw: [UInt8]) { bytes += raw }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    /// The file, parsed.
    func file(_ name: String = "test.gguf") throws -> GGUFFile {
        try GGUFFile(file: MappedFile(bytes: bytes, path: name))
    }
}
