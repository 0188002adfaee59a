// GGUF metadata values, as the spec defines them:
// https://github.com/ggml-org/ggml/blob/master/docs/gguf.md ("gguf_metadata_value_type")

/// The type tag of a GGUF metadata value.
public enum GGUFValueType: UInt32, Sendable, Hashable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes of one value of a fixed-size type; nil for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes a value of this type can occupy (an empty string: its u64 length; an empty
    /// array: element type and count).
    var minimumSize: Int { fixedSize ?? (self == .string ? 8 : 12) }

    public var description: String {
        switch self {
        case .uint8: "u8"
        case .int8: "i8"
        case .uint16: "u16"
        case .int16: "i16"
        case .uint32: "u32"
        case .int32: "i32"
        case .float32: "f32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "u64"
        case .int64: "i64"
        case .float64: "f64"
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, CustomStringConvertible {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    /// An array, read lazily from the file (tokenizer vocabularies hold ~50k strings).
    case array(GGUFArray)

    /// The type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value of any integer type, when it fits in `Int`.
    public var integer: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value of any numeric type (integer or floating point) as a `Double`.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        default: integer.map(Double.init)
        }
    }

    /// The text of a string value.
    public var string: String? {
        if case .string(let s) = self { s } else { nil }
    }

    /// The value of a bool.
    public var bool: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }

    /// The elements of an array value.
    public var array: GGUFArray? {
        if case .array(let a) = self { a } else { nil }
    }

    public var description: String {
        switch self {
        case .uint8(let v): "\(v)"
        case .int8(let v): "\(v)"
        case .uint16(let v): "\(v)"
        case .int16(let v): "\(v)"
        case .uint32(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .uint64(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .float32(let v): "\(v)"
        case .float64(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.elementType) × \(a.count)]"
        }
    }
}

/// A GGUF array: `count` values of one type, decoded from the mapped file on access.
///
/// Opening a file checks every element (bounds, UTF-8, bools) and records where each string starts, so
/// access cannot fail; elements become Swift values only when read.
public struct GGUFArray: RandomAccessCollection, Sendable {
    /// The type of every element.
    public let elementType: GGUFValueType
    /// Always 0.
    public let startIndex = 0
    /// Number of elements.
    public let endIndex: Int

    private let file: MappedFile
    /// Fixed-size elements: where the first one starts. Strings: unused.
    private let start: Int
    /// Strings: where each string's bytes start (its u64 length lies just before).
    private let stringStarts: [Int]
    /// Arrays of arrays: the inner arrays.
    private let arrays: [GGUFArray]

    init(
        elementType: GGUFValueType, count: Int, file: MappedFile, start: Int, stringStarts: [Int] = [],
        arrays: [GGUFArray] = []
    ) {
        self.elementType = elementType
        self.endIndex = count
        self.file = file
        self.start = start
        self.stringStarts = stringStarts
        self.arrays = arrays
    }

    /// The element at `index` (which must be in `indices`).
    public subscript(index: Int) -> GGUFValue {
        precondition(indices.contains(index), "index \(index) out of range 0..<\(count)")
        let bytes = file.bytes
        switch elementType {
        case .uint8: return .uint8(bytes[start + index])
        case .int8: return .int8(Int8(bitPattern: bytes[start + index]))
        case .bool: return .bool(bytes[start + index] != 0)
        case .uint16: return .uint16(load(UInt16.self, index))
        case .int16: return .int16(load(Int16.self, index))
        case .uint32: return .uint32(load(UInt32.self, index))
        case .int32: return .int32(load(Int32.self, index))
        case .uint64: return .uint64(load(UInt64.self, index))
        case .int64: return .int64(load(Int64.self, index))
        case .float32: return .float32(Float(bitPattern: load(UInt32.self, index)))
        case .float64: return .float64(Double(bitPattern: load(UInt64.self, index)))
        case .string: return .string(string(at: index))
        case .array: return .array(arrays[index])
        }
    }

    /// The string at `index` of an array of strings.
    public func string(at index: Int) -> String {
        precondition(elementType == .string, "string(at:) of an array of \(elementType)")
        let from = stringStarts[index]
        let length = Int(UInt64(littleEndian: file.bytes.loadUnaligned(fromByteOffset: from - 8, as: UInt64.self)))
        return String(decoding: UnsafeRawBufferPointer(rebasing: file.bytes[from..<(from + length)]), as: UTF8.self)
    }

    /// All elements as strings, or nil unless this is an array of strings.
    public func strings() -> [String]? {
        guard elementType == .string else { return nil }
        return indices.map(string(at:))
    }

    /// All elements as `Int`, or nil unless this is an array of integers that all fit in `Int`.
    public func integers() -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(count)
        for value in self {
            guard let v = value.integer else { return nil }
            out.append(v)
        }
        return out
    }

    /// All elements as `Float`, or nil unless this is an array of numbers.
    public func floats() -> [Float]? {
        var out: [Float] = []
        out.reserveCapacity(count)
        for value in self {
            guard let v = value.double else { return nil }
            out.append(Float(v))
        }
        return out
    }

    private func load<T: FixedWidthInteger>(_: T.Type, _ index: Int) -> T {
        T(littleEndian: file.bytes.loadUnaligned(fromByteOffset: start + index * MemoryLayout<T>.size, as: T.self))
    }
}
