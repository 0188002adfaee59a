// swift-format-ignore-file: AlwaysUseLowerCamelCase
// The quantized types keep ggml's names (q4_0, q4_K…), which users and the GGUF spec know them by.

/// The element type of a tensor: plain scalars, and the block-quantized formats GGUF models use.
///
/// Block formats store `blockSize` consecutive elements of a row in `blockBytes` bytes with a shared
/// scale (layouts: ggml's `ggml-common.h`). A quantized row's length must be a multiple of `blockSize`.
public enum DType: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16, f64
    case i8, i16, i32, i64, u8
    /// 32 elements: f16 scale, 16 bytes of 4-bit values (value = (q - 8) · d).
    case q4_0
    /// 32 elements: f16 scale, f16 min, 16 bytes of 4-bit values (value = q · d + m).
    case q4_1
    /// 32 elements: f16 scale, f16 min, 4 bytes of high bits, 16 bytes of low nibbles.
    case q5_0, q5_1
    /// 32 elements: f16 scale, 32 signed bytes (value = q · d).
    case q8_0
    /// 32 elements: f16 scale, f16 sum, 32 signed bytes.
    case q8_1
    /// 256-element super-blocks ("k-quants").
    case q2_K, q3_K, q4_K, q5_K, q6_K, q8_K

    /// Elements per block (1 for plain scalars).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64, .u8: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block (the element size for plain scalars).
    public var blockBytes: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8: 1
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 36
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        }
    }

    /// Byte alignment the elements need to be read in place (blocks are read byte-wise or unaligned).
    public var alignment: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        default: 1
        }
    }

    /// Whether this is a block-quantized format.
    public var isQuantized: Bool { blockSize > 1 }

    /// Whether values of this type are floating point (plain or quantized), i.e. convertible to `Float`.
    public var isFloatingPoint: Bool {
        switch self {
        case .i8, .i16, .i32, .i64, .u8: false
        default: true
        }
    }

    /// Bytes needed for `count` elements, or nil when `count` is not a whole number of blocks or overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    public var description: String { rawValue }
}
