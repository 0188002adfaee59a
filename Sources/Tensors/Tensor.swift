/// An n-dimensional array: a row-major shape, an element type and contiguous storage.
///
/// A value type: copies share storage until one of them writes, which copies first (copy on write).
/// Tensors read from a model file point into the mapped file and are never written in place.
///
/// Shapes are row-major, outermost first, as in PyTorch: a linear weight is `[out, in]`, a conv1d weight
/// `[outChannels, inChannels / groups, kernel]`, an activation `[channels, time]` or `[tokens, features]`.
public struct Tensor: Sendable {
    /// Dimensions, outermost first. A scalar has shape `[]`.
    public private(set) var shape: [Int]
    /// Element type.
    public let dtype: DType
    /// The bytes, shared between copies until one writes.
    public private(set) var storage: TensorStorage
    /// Where this tensor's bytes start inside `storage`.
    public let byteOffset: Int

    /// Wraps existing storage. `byteOffset + dtype.byteCount(elements:)` must lie within the storage.
    public init(shape: [Int], dtype: DType, storage: TensorStorage, byteOffset: Int = 0) {
        let count = Tensor.elementCount(of: shape)
        precondition(count != nil, "invalid shape \(shape)")
        let bytes = dtype.byteCount(elements: count!)
        precondition(
            bytes != nil && byteOffset >= 0 && byteOffset + bytes! <= storage.byteCount,
            "shape \(shape) of \(dtype) does not fit its storage")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let count = Tensor.elementCount(of: shape)!
        self.init(shape: shape, dtype: dtype, storage: TensorStorage(zeroedBytes: dtype.byteCount(elements: count)!))
    }

    /// An f32 tensor holding `values` (whose count must equal the shape's element count).
    public init(shape: [Int], floats values: [Float]) {
        precondition(Tensor.elementCount(of: shape) == values.count, "\(values.count) values for shape \(shape)")
        let storage = TensorStorage(uninitializedBytes: values.count * 4)
        values.withUnsafeBytes { storage.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        self.init(shape: shape, dtype: .f32, storage: storage)
    }

    /// Matrices `[r_i, c]` of one element type stacked row after row into one `[Σ r_i, c]` (rows of a block format
    /// are whole blocks, so their bytes simply follow one another); nil for fewer than two, other ranks, or
    /// differing types or widths.
    public init?(stackingRows parts: [Tensor]) {
        guard parts.count >= 2, let first = parts.first,
            parts.allSatisfy({ $0.rank == 2 && $0.dtype == first.dtype && $0.shape[1] == first.shape[1] })
        else { return nil }
        let bytes = parts.reduce(0) { $0 + $1.byteCount }
        let storage = TensorStorage(uninitializedBytes: bytes)
        var offset = 0
        for part in parts {
            part.withUnsafeBytes { (storage.base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            offset += part.byteCount
        }
        self.init(shape: [parts.reduce(0) { $0 + $1.shape[0] }, first.shape[1]], dtype: first.dtype, storage: storage)
    }

    /// The product of the dimensions, or nil for a negative dimension or an overflowing product.
    public static func elementCount(of shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of bytes the elements occupy.
    public var byteCount: Int { dtype.byteCount(elements: count)! }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(of: newShape) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Reads the raw bytes.
    public func withUnsafeBytes<R, E>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: storage.base + byteOffset, count: byteCount))
    }

    /// Writes the raw bytes, copying them first if the storage is shared or read-only.
    public mutating func withUnsafeMutableBytes<R, E>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        makeUnique()
        return try body(UnsafeMutableRawBufferPointer(start: storage.base + byteOffset, count: byteCount))
    }

    /// Reads the elements of an f32 tensor.
    public func withUnsafeFloats<R, E>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        precondition(dtype == .f32, "expected an f32 tensor, got \(dtype)")
        let p = (storage.base + byteOffset).assumingMemoryBound(to: Float.self)
        return try body(UnsafeBufferPointer(start: p, count: count))
    }

    /// Writes the elements of an f32 tensor, copying them first if the storage is shared or read-only.
    public mutating func withUnsafeMutableFloats<R, E>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        precondition(dtype == .f32, "expected an f32 tensor, got \(dtype)")
        makeUnique()
        let p = (storage.base + byteOffset).assumingMemoryBound(to: Float.self)
        return try body(UnsafeMutableBufferPointer(start: p, count: count))
    }

    /// Makes this tensor the only owner of writable storage holding exactly its bytes.
    public mutating func makeUnique() {
        if isKnownUniquelyReferenced(&storage) && !storage.isReadOnly { return }
        let copy = TensorStorage(uninitializedBytes: byteCount)
        copy.base.copyMemory(from: storage.base + byteOffset, byteCount: byteCount)
        self = Tensor(shape: shape, dtype: dtype, storage: copy)
    }

    /// The elements converted to `Float`: every plain type, and the block formats `Quantization` reads.
    public func floats() -> [Float] {
        if dtype.isQuantized {
            precondition(Quantization.supports(dtype), "no dequantizer for \(dtype) tensors yet")
            return Quantization.dequantize(self)
        }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            withUnsafeBytes { raw in
                switch dtype {
                case .f32: _ = out.initialize(from: raw.bindMemory(to: Float.self))
                case .f16: for (i, v) in raw.bindMemory(to: Float16.self).enumerated() { out[i] = Float(v) }
                case .bf16:
                    for (i, v) in raw.bindMemory(to: UInt16.self).enumerated() {
                        out[i] = Float(bitPattern: UInt32(v) << 16)
                    }
                case .f64: for (i, v) in raw.bindMemory(to: Double.self).enumerated() { out[i] = Float(v) }
                case .i8: for (i, v) in raw.bindMemory(to: Int8.self).enumerated() { out[i] = Float(v) }
                case .u8: for (i, v) in raw.bindMemory(to: UInt8.self).enumerated() { out[i] = Float(v) }
                case .i16: for (i, v) in raw.bindMemory(to: Int16.self).enumerated() { out[i] = Float(v) }
                case .i32: for (i, v) in raw.bindMemory(to: Int32.self).enumerated() { out[i] = Float(v) }
                case .i64: for (i, v) in raw.bindMemory(to: Int64.self).enumerated() { out[i] = Float(v) }
                default: break
                }
            }
            initialized = count
        }
    }

    /// The elements of an integer tensor as `Int` (ONNX shape constants, token ids).
    public func integers() -> [Int] {
        withUnsafeBytes { raw in
            switch dtype {
            case .i64: raw.bindMemory(to: Int64.self).map { Int($0) }
            case .i32: raw.bindMemory(to: Int32.self).map { Int($0) }
            case .i16: raw.bindMemory(to: Int16.self).map { Int($0) }
            case .i8: raw.bindMemory(to: Int8.self).map { Int($0) }
            case .u8: raw.bindMemory(to: UInt8.self).map { Int($0) }
            default: floats().map { Int($0) }
            }
        }
    }

    /// This tensor with f32 elements (a copy unless it already is f32).
    public func toF32() -> Tensor {
        dtype == .f32 ? self : Tensor(shape: shape, floats: floats())
    }
}

extension Tensor {
    /// A tensor whose bytes lie at `offset` in a mapped file: zero copy when the bytes are aligned for
    /// `dtype`, otherwise copied into aligned memory (ONNX and CTranslate2 files do not align tensors).
    /// The caller has checked that the bytes lie within the file.
    public init(file: MappedFile, offset: Int, shape: [Int], dtype: DType) {
        let bytes = dtype.byteCount(elements: Tensor.elementCount(of: shape)!)!
        let address = Int(bitPattern: file.bytes.baseAddress) + offset
        if address % dtype.alignment == 0 {
            self.init(shape: shape, dtype: dtype, storage: TensorStorage(file: file, offset: offset, count: bytes))
        } else {
            let storage = TensorStorage(uninitializedBytes: bytes)
            storage.base.copyMemory(from: file.bytes.baseAddress! + offset, byteCount: bytes)
            self.init(shape: shape, dtype: dtype, storage: storage)
        }
    }
}
