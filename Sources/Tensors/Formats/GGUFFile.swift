// GGUF, versions 2 and 3, little-endian: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
// (reference reader: ggml/src/gguf.cpp `gguf_init_from_file_impl`; type ids: ggml/include/ggml.h `ggml_type`).
//
//   u32 magic "GGUF" · u32 version · u64 tensor_count · u64 kv_count
//   kv_count × { string key · u32 value_type · value }          string = u64 length · UTF-8 bytes
//                                                               array  = u32 type · u64 count · values
//   tensor_count × { string name · u32 n_dims · u64 ne[n_dims] · u32 ggml_type · u64 offset }
//   padding to `general.alignment` (default 32) · tensor data (offsets are relative to its start)

/// A GGUF model file: its metadata and its tensors, which point into the mapped file (zero copy).
///
/// Opening checks everything a tensor access relies on, so the tensors it lists can always be read:
/// every count and length against the bytes left (before allocating anything), every tensor's bytes
/// within the file, offsets aligned, and each row a whole number of quantization blocks.
public struct GGUFFile: Sendable {
    /// The default for `general.alignment`.
    public static let defaultAlignment = 32
    /// The most dimensions a ggml tensor has (`GGML_MAX_DIMS`).
    public static let maxDimensions = 4
    /// How deep arrays of arrays may nest.
    static let maxArrayDepth = 8

    /// The mapped file.
    public let file: MappedFile
    /// Format version (2 or 3).
    public let version: Int
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// The tensors in file order.
    public let tensors: [TensorInfo]
    /// Alignment of tensor data in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Offset of the tensor data section from the start of the file.
    public let dataOffset: Int

    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    /// Where one tensor lies and how it is laid out.
    public struct TensorInfo: Sendable, Hashable {
        /// Tensor name, e.g. `blk.0.attn_q.weight`.
        public let name: String
        /// ggml's dimensions (`ne`), innermost (the row) first.
        public let dimensions: [Int]
        /// ggml's type id (`ggml_type`).
        public let ggmlType: UInt32
        /// Element type.
        public let dtype: DType
        /// Absolute offset of the first byte in the file.
        public let offset: Int
        /// Bytes the tensor occupies.
        public let byteCount: Int

        /// Row-major shape, outermost first: `dimensions` reversed (a `[576, 49152]` ggml embedding
        /// table is `[49152, 576]`: 49152 rows of 576).
        public var shape: [Int] { dimensions.reversed() }
    }

    /// Opens and parses the GGUF file at `path`.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem.
    public init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses a mapped GGUF file.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem.
    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        var cursor = ByteCursor(file)

        let magic = try cursor.read(UInt32.self, "GGUF magic")
        guard magic == 0x4655_4747 else {  // "GGUF"
            throw cursor.error(.notThisFormat, at: 0, "no GGUF magic: the file does not start with \"GGUF\"")
        }
        let rawVersion = try cursor.read(UInt32.self, "GGUF version")
        switch rawVersion {
        case 2, 3: break
        case 1: throw cursor.error(.unsupported, at: 4, "GGUF version 1 (32-bit counts) is not supported")
        case 0x0200_0000, 0x0300_0000:
            throw cursor.error(.unsupported, at: 4, "big-endian GGUF files are not supported")
        case 0: throw cursor.error(.invalidField, at: 4, "GGUF version 0 does not exist")
        default: throw cursor.error(.unsupported, at: 4, "GGUF version \(rawVersion) is newer than this reader (3)")
        }
        // A tensor info takes at least 24 bytes (empty name, no dims), a key/value pair at least 13.
        let tensorCount = try cursor.readCount(UInt64.self, minimumSize: 24, "tensor count")
        let kvCount = try cursor.readCount(UInt64.self, minimumSize: 13, "metadata count")

        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        var alignmentOffset = 0
        metadata.reserveCapacity(kvCount)
        metadataIndex.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let keyOffset = cursor.offset
            let key = try GGUFFile.readString(&cursor, "key of metadata entry \(i)")
            guard metadataIndex[key] == nil else {
                throw cursor.error(.invalidField, at: keyOffset, "metadata key \"\(key)\" appears twice")
            }
            let type = try GGUFFile.readType(&cursor, "type of \"\(key)\"")
            if key == "general.alignment" { alignmentOffset = cursor.offset }
            let value = try GGUFFile.readValue(&cursor, type: type, depth: 0, key: key)
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = GGUFFile.defaultAlignment
        if let index = metadataIndex["general.alignment"] {
            guard case .uint32(let a) = metadata[index].value, a > 0, a & (a - 1) == 0 else {
                throw cursor.error(
                    .invalidField, at: alignmentOffset,
                    "general.alignment must be a u32 power of two, not \(metadata[index].value)")
            }
            alignment = Int(a)
        }

        // Offsets are relative to the data section until its start is known, after the last info.
        var infos: [(info: TensorInfo, offsetField: Int)] = []
        var tensorIndex: [String: Int] = [:]
        infos.reserveCapacity(tensorCount)
        tensorIndex.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let recordOffset = cursor.offset
            let name = try GGUFFile.readString(&cursor, "name of tensor \(i)")
            guard tensorIndex[name] == nil else {
                throw cursor.error(.invalidField, at: recordOffset, "tensor \"\(name)\" appears twice")
            }
            let dimsOffset = cursor.offset
            let rank = try cursor.read(UInt32.self, "dimension count of \(name)")
            guard rank <= GGUFFile.maxDimensions else {
                throw cursor.error(
                    .invalidField, at: dimsOffset,
                    "tensor \(name) has \(rank) dimensions; ggml allows at most \(GGUFFile.maxDimensions)")
            }
            var dims: [Int] = []
            for d in 0..<Int(rank) {
                let at = cursor.offset
                let raw = try cursor.read(UInt64.self, "dimension \(d) of \(name)")
                guard let dim = Int(exactly: raw) else {
                    throw cursor.error(.invalidField, at: at, "dimension \(d) of \(name) is \(raw)")
                }
                dims.append(dim)
            }
            let typeOffset = cursor.offset
            let ggmlType = try cursor.read(UInt32.self, "type of \(name)")
            guard let dtype = GGUFFile.dtype(ggmlType: ggmlType) else {
                throw cursor.error(
                    .unsupported, at: typeOffset,
                    "tensor \(name) has ggml type \(ggmlType), which this reader does not support")
            }
            guard (dims.first ?? 1) % dtype.blockSize == 0 else {
                throw cursor.error(
                    .invalidField, at: dimsOffset,
                    "tensor \(name): row length \(dims.first ?? 1) is not a multiple of "
                        + "\(dtype)'s block of \(dtype.blockSize)")
            }
            guard let count = Tensor.elementCount(of: dims), let byteCount = dtype.byteCount(elements: count) else {
                throw cursor.error(.invalidField, at: dimsOffset, "tensor \(name): dimensions \(dims) overflow")
            }
            let offsetField = cursor.offset
            let rawOffset = try cursor.read(UInt64.self, "data offset of \(name)")
            guard let relative = Int(exactly: rawOffset), relative % alignment == 0 else {
                throw cursor.error(
                    .invalidField, at: offsetField,
                    "tensor \(name): data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
            }
            tensorIndex[name] = infos.count
            let info = TensorInfo(
                name: name, dimensions: dims, ggmlType: ggmlType, dtype: dtype, offset: relative,
                byteCount: byteCount)
            infos.append((info, offsetField))
        }

        // The data section starts at the next multiple of the alignment (cursor.offset ≤ file size).
        let dataOffset = (cursor.offset + alignment - 1) / alignment * alignment
        let size = file.bytes.count
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for (info, offsetField) in infos {
            let (start, o1) = dataOffset.addingReportingOverflow(info.offset)
            let (end, o2) = start.addingReportingOverflow(info.byteCount)
            guard !o1, !o2, end <= size else {
                throw cursor.error(
                    .truncated, at: o1 ? size : min(start, size),
                    "tensor \(info.name) needs \(info.byteCount) bytes at offset \(dataOffset) + \(info.offset) "
                        + "(declared at byte \(offsetField)), beyond the end of the file (\(size) bytes)")
            }
            tensors.append(
                TensorInfo(
                    name: info.name, dimensions: info.dimensions, ggmlType: info.ggmlType,
                    dtype: info.dtype, offset: start, byteCount: info.byteCount))
        }

        self.version = Int(rawVersion)
        self.metadata = metadata
        self.metadataIndex = metadataIndex
        self.alignment = alignment
        self.tensors = tensors
        self.tensorIndex = tensorIndex
        self.dataOffset = dataOffset
    }

    /// The metadata value stored under `key`.
    public subscript(key: String) -> GGUFValue? {
        metadataIndex[key].map { metadata[$0].value }
    }

    /// The tensor named `name`, if any.
    public func tensorInfo(named name: String) -> TensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor named `name` with its row-major `shape`, pointing into the mapped file (zero copy:
    /// GGUF aligns tensor data), or nil if there is none.
    public func tensor(named name: String) -> Tensor? {
        tensorInfo(named: name).map(tensor(_:))
    }

    /// The tensor `info` describes (one of `tensors`).
    public func tensor(_ info: TensorInfo) -> Tensor {
        Tensor(file: file, offset: info.offset, shape: info.shape, dtype: info.dtype)
    }

    /// The element type of a ggml type id, or nil for types this package has no `DType` for.
    public static func dtype(ggmlType: UInt32) -> DType? {
        switch ggmlType {
        case 0: .f32
        case 1: .f16
        case 2: .q4_0
        case 3: .q4_1
        case 6: .q5_0
        case 7: .q5_1
        case 8: .q8_0
        case 9: .q8_1
        case 10: .q2_K
        case 11: .q3_K
        case 12: .q4_K
        case 13: .q5_K
        case 14: .q6_K
        case 15: .q8_K
        case 24: .i8
        case 25: .i16
        case 26: .i32
        case 27: .i64
        case 28: .f64
        case 30: .bf16
        default: nil
        }
    }

    // MARK: Reading

    private static func readString(_ cursor: inout ByteCursor, _ what: @autoclosure () -> String)
        throws(ModelFileError) -> String
    {
        let length = try cursor.readCount(UInt64.self, minimumSize: 1, "length of \(what())")
        return try cursor.string(length, what())
    }

    private static func readType(_ cursor: inout ByteCursor, _ what: @autoclosure () -> String)
        throws(ModelFileError) -> GGUFValueType
    {
        let at = cursor.offset
        let raw = try cursor.read(UInt32.self, what())
        guard let type = GGUFValueType(rawValue: raw) else {
            throw cursor.error(.invalidField, at: at, "\(what()) is \(raw), not a GGUF value type")
        }
        return type
    }

    private static func readValue(_ cursor: inout ByteCursor, type: GGUFValueType, depth: Int, key: String)
        throws(ModelFileError) -> GGUFValue
    {
        let at = cursor.offset
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, "value of \(key)"))
        case .int8: return .int8(try cursor.read(Int8.self, "value of \(key)"))
        case .uint16: return .uint16(try cursor.read(UInt16.self, "value of \(key)"))
        case .int16: return .int16(try cursor.read(Int16.self, "value of \(key)"))
        case .uint32: return .uint32(try cursor.read(UInt32.self, "value of \(key)"))
        case .int32: return .int32(try cursor.read(Int32.self, "value of \(key)"))
        case .uint64: return .uint64(try cursor.read(UInt64.self, "value of \(key)"))
        case .int64: return .int64(try cursor.read(Int64.self, "value of \(key)"))
        case .float32: return .float32(try cursor.readFloat("value of \(key)"))
        case .float64: return .float64(try cursor.readDouble("value of \(key)"))
        case .bool:
            let b = try cursor.read(UInt8.self, "value of \(key)")
            guard b <= 1 else { throw cursor.error(.invalidField, at: at, "bool \(key) holds \(b), not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try readString(&cursor, "value of \(key)"))
        case .array: return .array(try readArray(&cursor, depth: depth + 1, key: key))
        }
    }

    private static func readArray(_ cursor: inout ByteCursor, depth: Int, key: String)
        throws(ModelFileError) -> GGUFArray
    {
        let at = cursor.offset
        guard depth <= maxArrayDepth else {
            throw cursor.error(.unsupported, at: at, "\(key): arrays nested more than \(maxArrayDepth) deep")
        }
        let type = try readType(&cursor, "element type of \(key)")
        let count = try cursor.readCount(UInt64.self, minimumSize: type.minimumSize, "element count of \(key)")
        let start = cursor.offset
        switch type {
        case .string:
            var starts: [Int] = []
            starts.reserveCapacity(count)
            for i in 0..<count {
                let length = try cursor.readCount(UInt64.self, minimumSize: 1, "length of \(key)[\(i)]")
                let from = cursor.offset
                let bytes = try cursor.bytes(length, "\(key)[\(i)]")
                guard isValidUTF8(bytes) else {
                    throw cursor.error(.invalidField, at: from, "\(key)[\(i)] is not valid UTF-8")
                }
                starts.append(from)
            }
            return GGUFArray(elementType: type, count: count, file: cursor.file, start: start, stringStarts: starts)
        case .array:
            var arrays: [GGUFArray] = []
            arrays.reserveCapacity(count)
            for i in 0..<count {
                arrays.append(try readArray(&cursor, depth: depth + 1, key: "\(key)[\(i)]"))
            }
            return GGUFArray(elementType: type, count: count, file: cursor.file, start: start, arrays: arrays)
        case .bool:
            let bytes = try cursor.bytes(count, "elements of \(key)")
            if let bad = bytes.firstIndex(where: { $0 > 1 }) {
                throw cursor.error(.invalidField, at: start + bad, "\(key)[\(bad)] holds \(bytes[bad]), not a bool")
            }
            return GGUFArray(elementType: type, count: count, file: cursor.file, start: start)
        default:
            // readCount bounded count · size by the bytes left, so this cannot overflow.
            try cursor.skip(count * type.minimumSize, "elements of \(key)")
            return GGUFArray(elementType: type, count: count, file: cursor.file, start: start)
        }
    }
}
