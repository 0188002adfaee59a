// CTranslate2 `model.bin`, binary versions 1–6:
// writer https://github.com/OpenNMT/CTranslate2/blob/master/python/ctranslate2/specs/model_spec.py (`_serialize`),
// reader https://github.com/OpenNMT/CTranslate2/blob/master/src/models/model.cc (`Model::load`).
//
//   u32 binary_version · [v≥2: str spec_name · u32 spec_revision] · u32 num_variables
//   num_variables × { str name · u8 rank · u32 dims[rank] ·
//                     v≥4: u8 dtype_id · u32 num_bytes | v<4: u8 item_size · u32 element_count · bytes }
//   [v≥3: u32 num_aliases · num_aliases × { str alias · str target }]
//   str = u16 length including a trailing NUL · bytes · NUL. Little-endian, no padding anywhere.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A CTranslate2 model (`model.bin`): the spec it follows and its variables, which point into the mapped
/// file (zero copy when their bytes happen to be aligned for their type; CTranslate2 does not align).
///
/// Rank-0 variables hold configuration (`decoder/num_heads`); `scalar(named:)` and `integer(named:)`
/// read them.
public struct CTranslate2Model: Sendable {
    /// The newest binary version this reader understands (CTranslate2's `current_binary_version`).
    public static let newestBinaryVersion = 6

    /// The mapped `model.bin`.
    public let file: MappedFile
    /// Binary format version (1–6).
    public let binaryVersion: Int
    /// Model spec, e.g. `WhisperSpec` (empty for binary version 1).
    public let specName: String
    /// Revision of the spec (1 for binary version 1).
    public let specRevision: Int
    /// The variables in file order (sorted by name by the converter).
    public let variables: [Variable]
    /// Other names for variables, in file order.
    public let aliases: [Alias]

    /// Variables and resolved aliases by name.
    private let index: [String: Int]

    /// One named array of the model.
    public struct Variable: Sendable {
        /// Name, e.g. `encoder/layer_0/ffn/linear_0/weight`.
        public let name: String
        /// Element type.
        public let dtype: DType
        /// Row-major shape; `[]` for a scalar.
        public let shape: [Int]
        /// Absolute offset of the first byte in the file.
        public let offset: Int
        /// Bytes the elements occupy.
        public let byteCount: Int
        let file: MappedFile

        /// The elements: a view of the mapped file when aligned for `dtype`, otherwise a copy made on
        /// each access (keep the result).
        public var tensor: Tensor { Tensor(file: file, offset: offset, shape: shape, dtype: dtype) }
    }

    /// A second name for a variable (the converter stores equal variables once).
    public struct Alias: Sendable, Hashable {
        /// The other name, e.g. `decoder/projection/weight`.
        public let name: String
        /// The variable it stands for, e.g. `decoder/embeddings/weight`.
        public let target: String

        /// `name` standing for `target`.
        public init(name: String, target: String) {
            self.name = name
            self.target = target
        }
    }

    /// Opens `model.bin`, or the `model.bin` inside `path` when `path` is a directory.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem.
    public init(path: String) throws(ModelFileError) {
        var info = stat()
        let isDirectory = stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        let file = isDirectory ? (path.hasSuffix("/") ? path : path + "/") + "model.bin" : path
        try self.init(file: MappedFile(path: file))
    }

    /// Parses a mapped `model.bin`.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem.
    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        var cursor = ByteCursor(file)

        let rawVersion = try cursor.read(UInt32.self, "binary version")
        guard rawVersion >= 1 else {
            throw cursor.error(.notThisFormat, at: 0, "binary version 0: not a CTranslate2 model.bin")
        }
        guard rawVersion <= CTranslate2Model.newestBinaryVersion else {
            throw cursor.error(
                .unsupported, at: 0,
                "binary version \(rawVersion) is newer than this reader (\(CTranslate2Model.newestBinaryVersion))")
        }
        let version = Int(rawVersion)
        var specName = ""
        var specRevision = 1
        if version >= 2 {
            specName = try CTranslate2Model.readString(&cursor, "spec name")
            specRevision = Int(try cursor.read(UInt32.self, "spec revision"))
        }

        // A variable record takes at least 9 bytes: a 1-character name, rank 0, type, size.
        let variableCount = try cursor.readCount(UInt32.self, minimumSize: 9, "variable count")
        var variables: [Variable] = []
        var index: [String: Int] = [:]
        variables.reserveCapacity(variableCount)
        index.reserveCapacity(variableCount)
        for i in 0..<variableCount {
            let recordOffset = cursor.offset
            let name = try CTranslate2Model.readString(&cursor, "name of variable \(i)")
            guard index[name] == nil else {
                throw cursor.error(.invalidField, at: recordOffset, "variable \(name) appears twice")
            }
            let rank = Int(try cursor.read(UInt8.self, "rank of \(name)"))
            var shape: [Int] = []
            shape.reserveCapacity(rank)
            for d in 0..<rank { shape.append(Int(try cursor.read(UInt32.self, "dimension \(d) of \(name)"))) }

            let typeOffset = cursor.offset
            let dtype: DType
            let byteCount: Int
            if version >= 4 {
                let id = try cursor.read(UInt8.self, "type of \(name)")
                guard let t = CTranslate2Model.dtype(id: id) else {
                    throw cursor.error(.invalidField, at: typeOffset, "variable \(name) has unknown type id \(id)")
                }
                dtype = t
                byteCount = Int(try cursor.read(UInt32.self, "byte count of \(name)"))
            } else {
                // Before version 4 the type was guessed from the item size (CTranslate2's own rule).
                let itemSize = try cursor.read(UInt8.self, "item size of \(name)")
                guard let t = CTranslate2Model.dtype(itemSize: itemSize) else {
                    throw cursor.error(.invalidField, at: typeOffset, "variable \(name) has item size \(itemSize)")
                }
                dtype = t
                byteCount = Int(try cursor.read(UInt32.self, "element count of \(name)")) * Int(itemSize)
            }
            guard let count = Tensor.elementCount(of: shape), dtype.byteCount(elements: count) == byteCount else {
                throw cursor.error(
                    .invalidField, at: typeOffset,
                    "variable \(name): \(byteCount) bytes do not hold shape \(shape) of \(dtype)")
            }
            let offset = cursor.offset
            try cursor.skip(byteCount, "data of \(name)")
            index[name] = variables.count
            variables.append(
                Variable(
                    name: name, dtype: dtype, shape: shape, offset: offset, byteCount: byteCount,
                    file: file))
        }

        var aliases: [Alias] = []
        if version >= 3 {
            let aliasCount = try cursor.readCount(UInt32.self, minimumSize: 6, "alias count")
            aliases.reserveCapacity(aliasCount)
            for i in 0..<aliasCount {
                let name = try CTranslate2Model.readString(&cursor, "alias \(i)")
                let target = try CTranslate2Model.readString(&cursor, "target of alias \(name)")
                aliases.append(Alias(name: name, target: target))
                // As CTranslate2 does: an alias to a missing name is ignored, an existing name is kept.
                if index[name] == nil, let resolved = index[target] { index[name] = resolved }
            }
        }

        self.binaryVersion = version
        self.specName = specName
        self.specRevision = specRevision
        self.variables = variables
        self.aliases = aliases
        self.index = index
    }

    /// The variable named `name`, following aliases.
    public func variable(named name: String) -> Variable? {
        index[name].map { variables[$0] }
    }

    /// The elements of the variable named `name` (following aliases), or nil if there is none.
    public func tensor(named name: String) -> Tensor? {
        variable(named: name)?.tensor
    }

    /// The value of a rank-0 variable of any numeric type (config values: `decoder/num_heads`), or nil
    /// if there is no such scalar.
    public func scalar(named name: String) -> Double? {
        guard let v = variable(named: name), v.shape.isEmpty else { return nil }
        func load<T: FixedWidthInteger>(_: T.Type) -> T {
            T(littleEndian: file.bytes.loadUnaligned(fromByteOffset: v.offset, as: T.self))
        }
        return switch v.dtype {
        case .i8: Double(load(Int8.self))
        case .i16: Double(load(Int16.self))
        case .i32: Double(load(Int32.self))
        case .f32: Double(Float(bitPattern: load(UInt32.self)))
        case .f16: Double(Float16(bitPattern: load(UInt16.self)))
        case .bf16: Double(Float(bitPattern: UInt32(load(UInt16.self)) << 16))
        default: nil
        }
    }

    /// The value of a rank-0 integer variable (CTranslate2 stores flags as int8), or nil if there is
    /// no such scalar.
    public func integer(named name: String) -> Int? {
        guard let v = variable(named: name), [.i8, .i16, .i32].contains(v.dtype) else { return nil }
        return scalar(named: name).map { Int($0) }
    }

    /// The element type of a CTranslate2 `DataType` id (`include/ctranslate2/types.h`).
    public static func dtype(id: UInt8) -> DType? {
        switch id {
        case 0: .f32
        case 1: .i8
        case 2: .i16
        case 3: .i32
        case 4: .f16
        case 5: .bf16
        default: nil
        }
    }

    /// Binary versions 1–3 stored an item size, from which CTranslate2 guesses the type.
    private static func dtype(itemSize: UInt8) -> DType? {
        switch itemSize {
        case 4: .f32
        case 2: .i16
        case 1: .i8
        default: nil
        }
    }

    /// Reads a `str`: a u16 length that counts a trailing NUL, then the bytes and the NUL.
    private static func readString(_ cursor: inout ByteCursor, _ what: @autoclosure () -> String)
        throws(ModelFileError) -> String
    {
        let at = cursor.offset
        let length = Int(try cursor.read(UInt16.self, "length of \(what())"))
        guard length >= 1 else {
            throw cursor.error(.invalidField, at: at, "\(what()) has length 0 (no terminating NUL)")
        }
        let text = try cursor.string(length - 1, what())
        let nulOffset = cursor.offset
        guard try cursor.read(UInt8.self, "NUL ending \(what())") == 0 else {
            throw cursor.error(.invalidField, at: nulOffset, "\(what()) does not end with a NUL byte")
        }
        return text
    }
}
