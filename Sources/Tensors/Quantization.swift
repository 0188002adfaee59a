/// Reference quantizers and dequantizers for ggml's 32-element block formats q4_0, q4_1 and q8_0.
///
/// Block layouts (ggml's `ggml-common.h`), little-endian, blocks packed without padding:
/// - q4_0 (18 bytes): f16 d, 16 bytes qs; element j (j < 16) is the low nibble of qs[j], element j + 16
///   its high nibble; value = (q − 8) · d.
/// - q4_1 (20 bytes): f16 d, f16 m, 16 bytes qs in q4_0's nibble order; value = q · d + m.
/// - q8_0 (34 bytes): f16 d, 32 signed bytes qs; value = qs[j] · d.
///
/// These are the plain, obviously correct versions: the oracle the fast kernels are checked against,
/// and the way tests make quantized tensors. The quantizers round as ggml's `quantize_row_*_ref` do.
/// The entry points also take the 256-element k-quants q4_K and q6_K, which `KQuantization` implements.
public enum Quantization {
    /// Elements per block of the 32-element formats here (the k-quants' super-blocks hold 256).
    public static let blockSize = 32

    /// Whether `dtype` is one of the block formats this file (with `KQuantization`) reads and writes.
    public static func supports(_ dtype: DType) -> Bool {
        dtype == .q4_0 || dtype == .q4_1 || dtype == .q8_0 || KQuantization.supports(dtype)
    }

    // MARK: - Dequantizing

    /// Every element of a quantized tensor as `Float`, in row-major order.
    public static func dequantize(_ tensor: Tensor) -> [Float] {
        precondition(supports(tensor.dtype), "no dequantizer for \(tensor.dtype)")
        let count = tensor.count
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            tensor.withUnsafeBytes { raw in
                dequantize(raw.baseAddress!, dtype: tensor.dtype, count: count, into: out.baseAddress!)
            }
            initialized = count
        }
    }

    /// The rows `rows` of a 2-D quantized tensor [rows, cols], dequantized (cols whole blocks).
    public static func dequantize(_ tensor: Tensor, rows: Range<Int>) -> [Float] {
        precondition(supports(tensor.dtype) && tensor.rank == 2, "no dequantizer for \(tensor.dtype) \(tensor.shape)")
        let cols = tensor.shape[1]
        let rowBytes = tensor.dtype.byteCount(elements: cols)!
        let count = rows.count * cols
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            tensor.withUnsafeBytes { raw in
                dequantize(
                    raw.baseAddress! + rows.lowerBound * rowBytes, dtype: tensor.dtype, count: count,
                    into: out.baseAddress!)
            }
            initialized = count
        }
    }

    /// Dequantizes `count` elements (whole blocks) of `dtype` blocks at `src` into `dst`.
    public static func dequantize(
        _ src: UnsafeRawPointer, dtype: DType, count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        if KQuantization.supports(dtype) {
            KQuantization.dequantize(src, dtype: dtype, count: count, into: dst)
            return
        }
        precondition(count % blockSize == 0, "\(count) elements are not whole blocks")
        let blockBytes = dtype.blockBytes
        for b in 0..<(count / blockSize) {
            let block = src + b * blockBytes
            let out = dst + b * blockSize
            let d = half(block, 0)
            switch dtype {
            case .q4_0:
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    out[j] = Float(Int(q & 0x0F) - 8) * d
                    out[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            case .q4_1:
                let m = half(block, 2)
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    out[j] = Float(q & 0x0F) * d + m
                    out[j + 16] = Float(q >> 4) * d + m
                }
            case .q8_0:
                for j in 0..<32 { out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            default:
                preconditionFailure("no dequantizer for \(dtype)")
            }
        }
    }

    /// The f16 at `offset` in a block, as `Float`.
    @inline(__always)
    static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    // MARK: - Quantizing

    /// `values` quantized to `dtype` as a tensor of `shape`; the last dimension must be whole blocks
    /// (32 elements, 256 for the k-quants).
    public static func quantize(_ values: [Float], shape: [Int], as dtype: DType) -> Tensor {
        precondition(supports(dtype), "no quantizer for \(dtype)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        precondition((shape.last ?? 0) % dtype.blockSize == 0, "rows of \(shape) are not whole blocks")
        var t = Tensor(zeros: shape, dtype: dtype)
        if KQuantization.supports(dtype) {
            t.withUnsafeMutableBytes { raw in
                values.withUnsafeBufferPointer { v in
                    KQuantization.quantize(v.baseAddress!, count: v.count, as: dtype, into: raw.baseAddress!)
                }
            }
            return t
        }
        t.withUnsafeMutableBytes { raw in
            for b in 0..<(values.count / blockSize) {
                let block = raw.baseAddress! + b * dtype.blockBytes
                let x = values[(b * blockSize)..<((b + 1) * blockSize)].map { $0 }
                switch dtype {
                case .q4_0: quantizeQ40(x, block)
                case .q4_1: quantizeQ41(x, block)
                default: quantizeQ80(x, block)
                }
            }
        }
        return t
    }

    static func storeHalf(_ v: Float, _ block: UnsafeMutableRawPointer, _ offset: Int) {
        block.storeBytes(of: Float16(v).bitPattern, toByteOffset: offset, as: UInt16.self)
    }

    /// Nibbles as ggml packs them: element j low, element j + 16 high.
    private static func storeNibbles(_ q: [UInt8], _ block: UnsafeMutableRawPointer, _ offset: Int) {
        for j in 0..<16 { block.storeBytes(of: q[j] | (q[j + 16] << 4), toByteOffset: offset + j, as: UInt8.self) }
    }

    /// d = the value of largest magnitude / −8; q = min(15, trunc(x / d + 8.5)).
    private static func quantizeQ40(_ x: [Float], _ block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        var max: Float = 0
        for v in x where abs(v) > amax {
            amax = abs(v)
            max = v
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        storeNibbles(x.map { UInt8(Swift.min(15, Int8(Float($0 * id + 8.5)))) }, block, 2)
    }

    /// d = (max − min) / 15, m = min; q = min(15, trunc((x − min) / d + 0.5)).
    private static func quantizeQ41(_ x: [Float], _ block: UnsafeMutableRawPointer) {
        let lo = x.min()!
        let hi = x.max()!
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        storeHalf(lo, block, 2)
        storeNibbles(x.map { UInt8(Swift.min(15, Int8(($0 - lo) * id + 0.5))) }, block, 4)
    }

    /// d = max |x| / 127; q = round(x / d).
    private static func quantizeQ80(_ x: [Float], _ block: UnsafeMutableRawPointer) {
        let amax = x.map(abs).max()!
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        for j in 0..<32 {
            block.storeBytes(of: Int8((x[j] * id).rounded()), toByteOffset: 2 + j, as: Int8.self)
        }
    }
}
