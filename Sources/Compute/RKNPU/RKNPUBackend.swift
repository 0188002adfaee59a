// The RK3588 NPU behind the backend layer, through librknnrt's matmul API (research/backends.md §1):
// weights re-laid into B's native fp16 layout once at load and kept in NPU buffers, A written and C read
// in native layout on every call, one matmul context per (M, K, N) shape and core, the work split along N
// over the three cores with one CPU thread per core (rknn_matmul_run blocks).
import Dispatch
import Logging
import Synchronization
import Tensors

/// How the NPU holds a weight's values (the rknpu backend's precision choice).
///
/// int8 uses INT8_MM_INT8_TO_INT32, not FLOAT16_MM_INT8_TO_FLOAT32 with per-channel B quant parameters: type 2 is
/// one the SDK's own matmul demo runs on RK3588 and its arithmetic is exact integer sums (so the emulator, and a
/// board, can be checked bit for bit), while whether type 5 runs on RK3588 and the layout of its quant-parameter
/// struct are unverified (research/backends.md §1). Per-channel scales then live on the CPU side: C[m, n] ·
/// scale(A row m) · scale(B column n), which also lets each row of A have its own scale at no device cost.
public enum RKNPUPrecision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// fp16 × fp16 → fp32: the weight (dequantized first when the file block-quantizes it) rounded to fp16.
    case float16
    /// int8 × int8 → int32: the weight quantized per output channel (one scale per column of B) at load,
    /// each row of A quantized with its own scale on every call; C scaled back to f32 on the CPU.
    case int8

    public var description: String { rawValue }

    /// The rknn_matmul_type.
    var matmulType: Int32 { self == .int8 ? RKNN.int8ToInt32 : RKNN.float16ToFloat32 }
    /// N's alignment on RK3588 (K's is 32 for both).
    public var nAlignment: Int { self == .int8 ? 32 : 16 }
    /// Bytes per element of A and B.
    public var operandBytes: Int { self == .int8 ? 1 : 2 }
}

/// The RK3588 NPU backend: linear, conv1d (im2col) and conv-transpose1d (col2im) as fp16 × fp16 → fp32 or
/// int8 × int8 → int32 matmuls (`RKNPUPrecision`); the CPU runs everything else.
///
/// What it declines (the engine then uses the CPU): matrix-vector products (fewer than `minimumRows` rows:
/// bound by memory bandwidth, which the NPU shares with the CPU, so copies only add time — an LLM's decoding
/// stays on the CPU, its prompt goes to the NPU), products whose padding to the NPU's alignment (K to 32, N to
/// 16 or 32) would more than double the work, K beyond 8192 (the SDK's own statements disagree there), grouped
/// convolutions, block formats without a dequantizer, and matmuls on activations (B would need a re-layout on
/// every call).
///
/// - Important: Weight buffers are allocated through one long-lived context per core and bound to the
///   per-shape contexts of that core. The emulator allows this; on hardware it rests on contexts of one
///   iommu domain sharing memory (unverified: a refusal surfaces as a run error, and the engine redoes the
///   op on the CPU).
public struct RKNPUBackend: Backend, DeviceTransfers {
    public let name = "rknpu"
    /// Products with fewer rows than this stay on the CPU.
    public let minimumRows: Int
    /// The precision asked for block-quantized weights (GGUF q8_0, q4_0, q4_1, q4_K, q6_K).
    public let quantizedWeights: RKNPUPrecision
    /// The precision asked for floating-point weights (f32, f16, bf16).
    public let floatWeights: RKNPUPrecision
    let device: RKNPUDevice

    /// The default for block-quantized weights: fp16, the precision that meets the LLM's bar on the emulated
    /// runtime — SmolLM2's greedy replies identical to the CPU's on 10 of 10 chat prompts, against 1 of 10 for
    /// int8 (per-row int8 activations cost the most; per-channel int8 weights alone still give only 5 of 10).
    /// See LlamaRKNPUTests and BENCHMARKS.md "RK3588 NPU".
    public static let defaultQuantizedWeights = RKNPUPrecision.float16

    /// The runtime's version line, as it reported it at start.
    public var version: String { device.version }
    /// The library the runtime was loaded from.
    public var libraryPath: String { device.runtime.path }
    /// NPU cores in use.
    public var cores: Int { device.cores.count }
    /// Whether the runtime made an int8 × int8 → int32 context at start (probed once per core).
    public var int8Available: Bool { device.int8 }

    /// Loads the runtime and opens one context per core.
    /// - Parameters:
    ///   - libraryPath: librknnrt.so to load; nil uses `HARK_RKNN_LIB`, else the system's.
    ///   - cores: NPU cores to spread work over (RK3588 has 3).
    ///   - minimumRows: products with fewer rows stay on the CPU.
    ///   - quantizedWeights: precision for block-quantized weights.
    ///   - floatWeights: precision for floating-point weights.
    ///   int8 falls back to fp16 (logged) when the runtime refuses int8 contexts.
    public init(
        libraryPath: String? = nil, cores: Int = 3, minimumRows: Int = 2,
        quantizedWeights: RKNPUPrecision = defaultQuantizedWeights, floatWeights: RKNPUPrecision = .float16
    ) throws(RKNPUError) {
        device = try RKNPUDevice(path: libraryPath ?? RKNNRuntime.defaultPath, cores: max(1, min(cores, 3)))
        self.minimumRows = max(1, minimumRows)
        self.quantizedWeights = quantizedWeights
        self.floatWeights = floatWeights
    }

    /// The precision a weight stored as `dtype` gets here: the one asked for, except int8 on a runtime that
    /// refused int8 contexts at start.
    public func precision(for dtype: DType) -> RKNPUPrecision {
        let asked = dtype.isQuantized ? quantizedWeights : floatWeights
        return asked == .int8 && !device.int8 ? .float16 : asked
    }

    // MARK: - What runs here

    /// Largest K this backend sends (see the type's note).
    static let maximumK = 8192

    /// The padded sizes of a K × N weight at `precision`, or nil when the NPU should not take it.
    public static func padded(k: Int, n: Int, precision: RKNPUPrecision = .float16) -> (k: Int, n: Int)? {
        guard k > 0, n > 0 else { return nil }
        let pk = NativeLayout.roundUp(k, 32)
        let pn = NativeLayout.roundUp(n, precision.nAlignment)
        guard pk <= maximumK, pk * pn <= 2 * k * n else { return nil }
        return (pk, pn)
    }

    /// Weight types the backend can lay out: plain floats, and block formats it can dequantize.
    static func takes(_ dtype: DType) -> Bool {
        dtype == .f32 || dtype == .f16 || dtype == .bf16 || Quantization.supports(dtype)
    }

    public func supports(_ op: Op) -> Bool {
        guard let dtype = Self.weightType(of: op) else { return false }
        return Self.takes(op, minimumRows: minimumRows, precision: precision(for: dtype))
    }

    /// Whether an RKNPU backend with `minimumRows` takes `op` at `precision` (no device needed: for cost
    /// projections too).
    public static func takes(_ op: Op, minimumRows: Int = 2, precision: RKNPUPrecision = .float16) -> Bool {
        switch op {
        case .linear(let m, let k, let n, let w):
            return takes(w) && m >= minimumRows && padded(k: k, n: n, precision: precision) != nil
        case .conv1d(let cin, let cout, let kernel, let length, let p, let w):
            return takes(w) && p.groups == 1 && p.outputLength(input: length, kernel: kernel) >= minimumRows
                && padded(k: cin * kernel, n: cout, precision: precision) != nil
        case .convTranspose1d(let cin, let cout, let kernel, let length, let p, let w):
            return takes(w) && p.groups == 1 && length >= minimumRows
                && padded(k: cin, n: cout * kernel, precision: precision) != nil
        default:
            return false
        }
    }

    /// The element type of the weight a product op reads.
    static func weightType(of op: Op) -> DType? {
        switch op {
        case .linear(_, _, _, let w), .conv1d(_, _, _, _, _, let w), .convTranspose1d(_, _, _, _, _, let w): w
        default: nil
        }
    }

    /// The product a weight feeds: K × N and how the weight orders them.
    static func geometry(_ weight: Tensor, _ use: WeightUse) -> (k: Int, n: Int, order: NativeLayout.Order)? {
        let s = weight.shape
        switch use {
        case .linear where s.count == 2: return (s[1], s[0], .nk)
        case .conv1d(let p) where s.count == 3 && p.groups == 1: return (s[1] * s[2], s[0], .nk)
        case .convTranspose1d(let p) where s.count == 3 && p.groups == 1: return (s[0], s[1] * s[2], .kn)
        default: return nil
        }
    }

    /// Lays `weight` out as B in native layout — (N/16, K/32, 16, 32) fp16, or (N/32, K/32, 32, 32) int8 with
    /// one scale per column — and copies it into NPU buffers, one slice of N per core. Block-quantized weights
    /// are dequantized first. Returns a one-element handle of the native element type, not a host copy: the
    /// native form lives only in NPU buffers (on the RK3588 they share DRAM with the CPU, so a host copy would
    /// double the memory of every weight), and the handle's identity finds them at run time.
    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        let precision = precision(for: weight.dtype)
        guard Self.takes(weight.dtype), let (k, n, order) = Self.geometry(weight, use),
            let (pk, pn) = Self.padded(k: k, n: n, precision: precision)
        else { return nil }
        let source = weight.toF32()
        let native: Tensor
        var scales: [Float] = []
        switch precision {
        case .float16:
            var b = Tensor(zeros: [pn / 16, pk / 32, 16, 32], dtype: .f16)
            source.withUnsafeFloats { w in
                b.withUnsafeMutableBytes { out in
                    NativeLayout.packB(
                        w.baseAddress!, order: order, k: k, n: n, paddedK: pk, paddedN: pn,
                        into: out.baseAddress!.assumingMemoryBound(to: Float16.self))
                }
            }
            native = b
        case .int8:
            var b = Tensor(zeros: [pn / 32, pk / 32, 32, 32], dtype: .i8)
            let (q, columnScales) = source.withUnsafeFloats { Self.quantizeColumns($0.baseAddress!, order, k: k, n: n) }
            scales = columnScales + [Float](repeating: 1, count: pn - n)
            q.withUnsafeBufferPointer { qp in
                b.withUnsafeMutableBytes { out in
                    NativeLayout.packBInt8(
                        qp.baseAddress!, k: k, n: n, paddedK: pk, paddedN: pn,
                        into: out.baseAddress!.assumingMemoryBound(to: Int8.self))
                }
            }
            native = b
        }
        let handle = Tensor(zeros: [1], dtype: native.dtype)
        do {
            try device.upload(native, k: k, n: n, precision: precision, scales: scales, handle: handle)
        } catch {
            throw ComputeError(.backendFailure, error.message)
        }
        return handle
    }

    /// A weight's columns (output channels) quantized symmetrically to int8, each with its own scale: [N, K]
    /// int8 rows and the N scales.
    static func quantizeColumns(_ w: UnsafePointer<Float>, _ order: NativeLayout.Order, k: Int, n: Int)
        -> (values: [Int8], scales: [Float])
    {
        let at: (Int, Int) -> Float = order == .nk ? { col, row in w[col * k + row] } : { col, row in w[row * n + col] }
        var scales = [Float](repeating: 1, count: n)
        let values = [Int8](unsafeUninitializedCapacity: n * k) { q, initialized in
            for col in 0..<n {
                var largest: Float = 0
                for row in 0..<k { largest = max(largest, abs(at(col, row))) }
                let scale = NativeLayout.int8Scale(maxMagnitude: largest)
                scales[col] = scale
                for row in 0..<k { q[col * k + row] = NativeLayout.quantize(at(col, row), inverseScale: 1 / scale) }
            }
            initialized = n * k
        }
        return (values, scales)
    }

    // MARK: - Ops

    public func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        let b = try deviceWeight(weight)
        let (k, n) = (b.k, b.n)
        guard x.count % k == 0, x.shape.last == k else { throw .shape("linear: input \(x.shape) does not end in \(k)") }
        let rows = x.count / k
        guard y.count == rows * n else { throw .shape("linear: output \(y.shape) is not [\(rows), \(n)]") }
        if let bias, bias.count != n { throw .shape("linear: bias \(bias.shape) is not [\(n)]") }
        let biasValues = bias?.toF32().floats() ?? []
        try x.withUnsafeFloats { (xp) throws(ComputeError) in
            try y.withUnsafeMutableFloats { (yp) throws(ComputeError) in
                try biasValues.withUnsafeBufferPointer { (bp) throws(ComputeError) in
                    let xs = SharedPointer(xp.baseAddress!)
                    let ys = SharedPointer(yp.baseAddress!)
                    // An empty array may still have an address: only a real bias is read.
                    let bs = bias == nil ? nil : bp.baseAddress.map { SharedPointer($0) }
                    try device.product(rows: rows, weight: b) { r0, _, _ in
                        UnsafePointer(xs.base + r0 * k)
                    } readC: { slice, r0, count, mb, c in
                        NativeLayout.unpackC(
                            c, rows: count, n: slice.columns, paddedM: mb,
                            bias: bs.map { UnsafePointer($0.base) + slice.n0 },
                            into: ys.base + r0 * n + slice.n0, rowStride: n)
                    }
                }
            }
        }
    }

    /// conv1d as a product: A = the im2col rows [tout, cin · kernel] (written straight into native A),
    /// B = the weight [cout, cin · kernel], C = yᵀ.
    public func conv1d(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: Conv1DParams, into y: inout Tensor)
        throws(ComputeError)
    {
        let b = try deviceWeight(weight)
        let (cout, kernel) = (weight.shape[0], weight.shape[2])
        guard x.rank == 2, x.shape[0] * kernel == b.k, p.groups == 1 else {
            throw .shape("conv1d: input \(x.shape) does not fit weight \(weight.shape)")
        }
        let length = x.shape[1]
        let tout = p.outputLength(input: length, kernel: kernel)
        guard tout > 0, y.shape == [cout, tout] else {
            throw .shape("conv1d: output \(y.shape) is not [\(cout), \(tout)]")
        }
        if let bias, bias.count != cout { throw .shape("conv1d: bias \(bias.shape) is not [\(cout)]") }
        let biasValues = bias?.toF32().floats() ?? [Float](repeating: 0, count: cout)
        let xf = x.toF32()
        try xf.withUnsafeFloats { (xp) throws(ComputeError) in
            try y.withUnsafeMutableFloats { (yp) throws(ComputeError) in
                try biasValues.withUnsafeBufferPointer { (bp) throws(ComputeError) in
                    let xs = SharedPointer(xp.baseAddress!)
                    let ys = SharedPointer(yp.baseAddress!)
                    let bs = SharedPointer(bp.baseAddress!)
                    let k = b.k
                    try device.product(rows: tout, weight: b) { r0, count, rowsOfA in
                        // im2col: row m, column (c, j) = x[c, (r0 + m) · stride + j · dilation − padLeft].
                        rowsOfA.initialize(repeating: 0, count: count * k)
                        for kk in 0..<k {
                            let (c, j) = kk.quotientAndRemainder(dividingBy: kernel)
                            let src = xs.base + c * length
                            let shift = j * p.dilation - p.padLeft
                            for m in 0..<count {
                                let pos = (r0 + m) * p.stride + shift
                                if pos >= 0 && pos < length { rowsOfA[m * k + kk] = src[pos] }
                            }
                        }
                        return UnsafePointer(rowsOfA)
                    } readC: { slice, r0, count, mb, c in
                        for o in 0..<slice.columns {
                            let block = c + (o / 4) * mb * 4 + o % 4
                            let channel = slice.n0 + o
                            let out = ys.base + channel * tout + r0
                            let bias = bs.base[channel]
                            for m in 0..<count { out[m] = block[m * 4] + bias }
                        }
                    }
                }
            }
        }
    }

    /// conv-transpose1d as a product and an overlap-add: C[t, (o, j)] = Σ_c x[c, t] · W[c, o, j], then
    /// y[o, t · stride + j − padding] += C[t, (o, j)] on the CPU.
    public func convTranspose1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params p: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError) {
        let b = try deviceWeight(weight)
        let (cin, cout, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        guard x.rank == 2, x.shape[0] == cin, p.groups == 1 else {
            throw .shape("conv_transpose1d: input \(x.shape) does not fit weight \(weight.shape)")
        }
        let length = x.shape[1]
        let tout = p.outputLength(input: length, kernel: kernel)
        guard tout > 0, y.shape == [cout, tout] else {
            throw .shape("conv_transpose1d: output \(y.shape) is not [\(cout), \(tout)]")
        }
        if let bias, bias.count != cout { throw .shape("conv_transpose1d: bias \(bias.shape) is not [\(cout)]") }
        let n = b.n
        var columns = [Float](repeating: 0, count: length * n)
        let xf = x.toF32()
        try xf.withUnsafeFloats { (xp) throws(ComputeError) in
            try columns.withUnsafeMutableBufferPointer { (cp) throws(ComputeError) in
                let xs = SharedPointer(xp.baseAddress!)
                let cs = SharedPointer(cp.baseAddress!)
                try device.product(rows: length, weight: b) { r0, count, rowsOfA in
                    // A = xᵀ: row t holds x[·, t].
                    for c in 0..<cin {
                        let src = xs.base + c * length + r0
                        for m in 0..<count { rowsOfA[m * cin + c] = src[m] }
                    }
                    return UnsafePointer(rowsOfA)
                } readC: { slice, r0, count, mb, c in
                    NativeLayout.unpackC(
                        c, rows: count, n: slice.columns, paddedM: mb, bias: nil, into: cs.base + r0 * n + slice.n0,
                        rowStride: n)
                }
            }
        }
        // Overlap-add on the CPU: cores may share an output channel, so this runs after they all finish.
        let biasValues = bias?.toF32().floats() ?? [Float](repeating: 0, count: cout)
        y.withUnsafeMutableFloats { yp in
            for o in 0..<cout { (yp.baseAddress! + o * tout).initialize(repeating: biasValues[o], count: tout) }
            columns.withUnsafeBufferPointer { cp in
                for t in 0..<length {
                    let row = cp.baseAddress! + t * n
                    for o in 0..<cout {
                        let out = yp.baseAddress! + o * tout
                        for j in 0..<kernel {
                            let pos = t * p.stride + j * p.dilation - p.padding
                            if pos >= 0 && pos < tout { out[pos] += row[o * kernel + j] }
                        }
                    }
                }
            }
        }
    }

    /// The NPU buffers of a weight this backend prepared.
    private func deviceWeight(_ weight: PreparedWeight) throws(ComputeError) -> DeviceWeight {
        guard let native = weight.native(for: name), let b = device.weight(for: native) else {
            throw ComputeError(.unsupported, "rknpu: the weight \(weight.shape) was not prepared for the NPU")
        }
        return b
    }

    // MARK: - Profile

    /// Bytes written to and read from NPU buffers by `op`: A once per core that takes a slice, C once.
    public func transferBytes(for op: Op) -> (toDevice: Int, fromDevice: Int) {
        Self.transferBytes(for: op, cores: cores, precision: Self.weightType(of: op).map(precision(for:)) ?? .float16)
    }

    /// `transferBytes(for:)` for a backend with `cores` cores at `precision` (no device needed).
    public static func transferBytes(for op: Op, cores: Int, precision: RKNPUPrecision = .float16)
        -> (toDevice: Int, fromDevice: Int)
    {
        guard let (rows, k, n) = product(of: op), let (pk, pn) = padded(k: k, n: n, precision: precision) else {
            return (0, 0)
        }
        let slices = RKNPUDevice.split(paddedN: pn, cores: cores, block: precision.nAlignment).count
        let m = paddedRows(rows)
        return (m * pk * precision.operandBytes * slices, m * pn * 4)
    }

    /// The rows the NPU computes for a product of `rows` rows: its tiles' padded rows (see `RKNPUDevice.tiles`).
    public static func paddedRows(_ rows: Int) -> Int { RKNPUDevice.tiles(rows: rows).reduce(0) { $0 + $1.padded } }

    /// The `rknn_matmul_run` calls per core a product of `rows` rows takes: one per tile.
    public static func calls(rows: Int) -> Int { RKNPUDevice.tiles(rows: rows).count }

    /// The rows, K and N of the product an op becomes on the NPU.
    public static func product(of op: Op) -> (rows: Int, k: Int, n: Int)? {
        switch op {
        case .linear(let m, let k, let n, _): (m, k, n)
        case .conv1d(let cin, let cout, let kernel, let length, let p, _):
            (p.outputLength(input: length, kernel: kernel), cin * kernel, cout)
        case .convTranspose1d(let cin, let cout, let kernel, let length, _, _): (length, cin, cout * kernel)
        default: nil
        }
    }
}

/// A weight in NPU buffers: B's native form cut along N into one slice per core.
struct DeviceWeight: @unchecked Sendable {
    // @unchecked: the slices' buffers are written once, at upload, and only read afterwards.
    struct Slice {
        let core: Int
        /// First column (a multiple of 16 or 32) and padded width of the slice.
        let n0: Int
        let width: Int
        /// Real (unpadded) columns in the slice.
        let columns: Int
        /// The rknn_tensor_mem holding the slice.
        let mem: UnsafeMutableRawPointer
    }

    /// Keeps the handle's storage alive, so its identity is never reused while registered.
    let storage: TensorStorage
    let k: Int
    let n: Int
    let paddedK: Int
    let paddedN: Int
    let precision: RKNPUPrecision
    /// int8: the scale of each (padded) column; empty for fp16.
    let scales: [Float]
    let slices: [Slice]
}

/// The runtime, one home context per core (for buffers and the version query), the kernel cache of each
/// core, and the weights in NPU buffers.
final class RKNPUDevice: Sendable {
    /// One core: its home context and its matmul contexts keyed by shape. The lock is held for a whole
    /// fill–run–read, so a core runs one product at a time.
    final class Core: Sendable {
        let index: Int
        let home: UInt64
        let kernels = Mutex<[KernelKey: MatmulKernel]>([:])

        init(index: Int, home: UInt64) {
            self.index = index
            self.home = home
        }
    }

    /// The cache key: padded M, K, N and the matmul type.
    struct KernelKey: Hashable {
        let m: Int
        let k: Int
        let n: Int
        let type: Int32
    }

    /// A row tile of a product: first row, real rows, rows as the context has them (a power of two).
    typealias Tile = (r0: Int, count: Int, padded: Int)

    let runtime: RKNNRuntime
    let cores: [Core]
    let version: String
    /// Whether every core made an int8 × int8 → int32 context at start.
    let int8: Bool
    private let weights = Mutex<[ObjectIdentifier: DeviceWeight]>([:])
    private let logger = Logger(label: "hark.compute.rknpu")

    init(path: String, cores count: Int) throws(RKNPUError) {
        let runtime = try RKNNRuntime(path: path)
        var cores: [Core] = []
        var int8 = true
        for i in 0..<count {
            // A smallest legal product per core: proves the runtime works here and owns the weight buffers.
            let home: MatmulKernel
            do {
                home = try MatmulKernel(runtime: runtime, m: 1, k: 32, n: 16, type: RKNN.float16ToFloat32, core: i)
            } catch {
                for core in cores { _ = runtime.destroy(core.home) }
                throw RKNPUError(
                    .runtimeFailure, "the NPU runtime '\(path)' loaded but refused a matmul on core \(i): \(error)")
            }
            _ = runtime.destroyMem(home.context, home.a)
            _ = runtime.destroyMem(home.context, home.c)
            home.ioAttr.deallocate()
            cores.append(Core(index: i, home: home.context))
            // The int8 probe: the smallest int8 product, made and dropped.
            if int8,
                let probe = try? MatmulKernel(runtime: runtime, m: 1, k: 32, n: 32, type: RKNN.int8ToInt32, core: i)
            {
                probe.destroy(runtime)
            } else {
                int8 = false
            }
        }
        self.runtime = runtime
        self.cores = cores
        self.int8 = int8
        version = runtime.version(context: cores[0].home) ?? "version unknown (rknn_query did not answer)"
        logger.info("rknpu: \(path), \(version), \(count) cores, int8 \(int8 ? "available" : "refused: fp16 only")")
    }

    deinit {
        for core in cores {
            core.kernels.withLock { kernels in
                for kernel in kernels.values { kernel.destroy(runtime) }
            }
        }
        weights.withLock { weights in
            for w in weights.values {
                for s in w.slices { _ = runtime.destroyMem(cores[s.core].home, s.mem) }
            }
        }
        for core in cores { _ = runtime.destroy(core.home) }
    }

    /// Column ranges (start, width), multiples of `block` (N's alignment), one per core that gets work.
    static func split(paddedN: Int, cores: Int, block: Int = 16) -> [(n0: Int, width: Int)] {
        let blocks = paddedN / block
        let per = (blocks + cores - 1) / cores
        return stride(from: 0, to: blocks, by: per).map { ($0 * block, min(per, blocks - $0) * block) }
    }

    /// The most rows one `rknn_matmul_run` takes. Every call costs a fixed submit-and-wait (research/backends.md
    /// §1: reported around 100 µs), so long products go in few large calls: a second of Piper audio is ~110 calls
    /// with tiles of 2048 rows against ~400 with 512 (`hark-bench project` weighs it).
    static let maximumTileRows = 2048

    /// Rows go to the NPU in tiles of at most `maximumTileRows`, each padded to a power of two (at least 8) up
    /// to 256 rows and to a multiple of 256 above, so a model needs only a handful of contexts per weight shape
    /// whatever its sequence lengths (at most 14), and a tile computes less than a quarter more rows than it has
    /// (688 rows: 768, not 1024).
    static func tiles(rows: Int) -> [Tile] {
        stride(from: 0, to: rows, by: maximumTileRows).map { r0 in
            let count = min(maximumTileRows, rows - r0)
            var padded = 8
            while padded < min(count, 256) { padded *= 2 }
            if count > 256 { padded = (count + 255) / 256 * 256 }
            return (r0, count, padded)
        }
    }

    /// Copies a native B into one NPU buffer per core slice and registers it under the tensor's storage.
    /// `handle` (default: `native` itself) is the tensor whose identity finds the weight later.
    func upload(
        _ native: Tensor, k: Int, n: Int, precision: RKNPUPrecision, scales: [Float], handle: Tensor? = nil
    ) throws(RKNPUError) {
        let key = handle ?? native
        let block = precision.nAlignment
        let (pk, pn) = (native.shape[1] * 32, native.shape[0] * block)
        let bytesPerColumn = pk * precision.operandBytes
        var slices: [DeviceWeight.Slice] = []
        for (i, part) in Self.split(paddedN: pn, cores: cores.count, block: block).enumerated() {
            let bytes = part.width * bytesPerColumn
            guard let mem = runtime.createMem(cores[i].home, UInt32(bytes)) else {
                for s in slices { _ = runtime.destroyMem(cores[s.core].home, s.mem) }
                throw RKNPUError(.runtimeFailure, "rknn_create_mem(\(bytes) bytes) for a weight failed")
            }
            native.withUnsafeBytes { src in
                MatmulKernel.address(mem).copyMemory(
                    from: src.baseAddress! + part.n0 * bytesPerColumn, byteCount: bytes)
            }
            slices.append(
                DeviceWeight.Slice(
                    core: i, n0: part.n0, width: part.width, columns: min(part.width, n - part.n0), mem: mem))
        }
        let weight = DeviceWeight(
            storage: key.storage, k: k, n: n, paddedK: pk, paddedN: pn, precision: precision, scales: scales,
            slices: slices)
        weights.withLock { $0[ObjectIdentifier(key.storage)] = weight }
    }

    func weight(for native: Tensor) -> DeviceWeight? {
        weights.withLock { $0[ObjectIdentifier(native.storage)] }
    }

    /// C = A · B over `rows` rows in f32: for each tile, `fillA` hands over the tile's rows of A (row-major,
    /// [count, K]; it may write them into the scratch it is given, which holds `maximumTileRows` · K floats), which are
    /// packed once into native A (fp16, or int8 with a scale per row); then each core (on a thread of its own)
    /// runs its slice of B and hands native C (N/4, M, 4) in f32 — int8 results already scaled — to `readC`,
    /// which must only write the slice's own columns.
    func product(
        rows: Int, weight b: DeviceWeight,
        fillA: (_ r0: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>,
        readC:
            @escaping @Sendable (
                _ slice: DeviceWeight.Slice, _ r0: Int, _ count: Int, _ paddedM: Int, _ c: UnsafePointer<Float>
            ) -> Void
    ) throws(ComputeError) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: min(rows, Self.maximumTileRows) * b.k)
        let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: Self.maximumTileRows)
        defer {
            scratch.deallocate()
            rowScales.deallocate()
        }
        let scales = SharedPointer(rowScales)
        try run(rows: rows, weight: b) { tile, a in
            let x = fillA(tile.r0, tile.count, scratch)
            switch b.precision {
            case .float16:
                NativeLayout.packA(
                    x, rows: tile.count, k: b.k, rowStride: b.k, paddedM: tile.padded, paddedK: b.paddedK,
                    into: a.assumingMemoryBound(to: Float16.self))
            case .int8:
                rowScales.initialize(repeating: 0, count: tile.padded)
                NativeLayout.quantizeA(
                    x, rows: tile.count, k: b.k, rowStride: b.k, paddedM: tile.padded, paddedK: b.paddedK,
                    scales: rowScales, into: a.assumingMemoryBound(to: Int8.self))
            }
        } readC: { slice, tile, c in
            switch b.precision {
            case .float16:
                readC(slice, tile.r0, tile.count, tile.padded, c.assumingMemoryBound(to: Float.self))
            case .int8:
                let out = UnsafeMutablePointer<Float>.allocate(capacity: slice.width * tile.padded)
                defer { out.deallocate() }
                b.scales.withUnsafeBufferPointer { columnScales in
                    NativeLayout.dequantizeC(
                        c.assumingMemoryBound(to: Int32.self), n: slice.width, paddedM: tile.padded,
                        rowScales: scales.base, columnScales: columnScales.baseAddress! + slice.n0, into: out)
                }
                readC(slice, tile.r0, tile.count, tile.padded, out)
            }
        }
    }

    /// C = A · B exactly, for an int8 weight: A given as int8 rows [rows, K], C returned as int32 rows
    /// [rows, N]. The same tiles, split, contexts and layouts as `product` (for bit-exact checks).
    func integerProduct(_ a: [Int8], rows: Int, weight b: DeviceWeight) throws(ComputeError) -> [Int32] {
        guard b.precision == .int8, a.count == rows * b.k else {
            throw ComputeError(.unsupported, "rknpu: an integer product needs an int8 weight and [rows, K] int8 rows")
        }
        var c = [Int32](repeating: 0, count: rows * b.n)
        try a.withUnsafeBufferPointer { (ap) throws(ComputeError) in
            try c.withUnsafeMutableBufferPointer { (cp) throws(ComputeError) in
                let cs = SharedPointer(cp.baseAddress!)
                try run(rows: rows, weight: b) { tile, native in
                    NativeLayout.packAInt8(
                        ap.baseAddress! + tile.r0 * b.k, rows: tile.count, k: b.k, rowStride: b.k,
                        paddedM: tile.padded, paddedK: b.paddedK, into: native.assumingMemoryBound(to: Int8.self))
                } readC: { slice, tile, native in
                    let block = UnsafeMutablePointer<Int32>.allocate(capacity: tile.count * slice.columns)
                    defer { block.deallocate() }
                    NativeLayout.unpackCInt32(
                        native.assumingMemoryBound(to: Int32.self), rows: tile.count, n: slice.columns,
                        paddedM: tile.padded, into: block)
                    for m in 0..<tile.count {
                        (cs.base + (tile.r0 + m) * b.n + slice.n0).update(
                            from: block + m * slice.columns, count: slice.columns)
                    }
                }
            }
        }
        return c
    }

    /// The loop under `product` and `integerProduct`: per tile, `writeA` fills native A (M = the tile's
    /// padded rows) once; then every core runs its slice with its cached context for (M, K, slice width,
    /// type) and hands the context's native C to `readC`.
    private func run(
        rows: Int, weight b: DeviceWeight, writeA: (Tile, UnsafeMutableRawPointer) -> Void,
        readC: @escaping @Sendable (DeviceWeight.Slice, Tile, UnsafeRawPointer) -> Void
    ) throws(ComputeError) {
        let bytesPerRow = b.paddedK * b.precision.operandBytes
        let nativeA = UnsafeMutableRawPointer.allocate(byteCount: bytesPerRow * Self.maximumTileRows, alignment: 64)
        defer { nativeA.deallocate() }
        let shared = SharedRawPointer(nativeA)
        let failure = FirstError()
        for tile in Self.tiles(rows: rows) {
            writeA(tile, nativeA)
            let work: @Sendable (Int) -> Void = { i in
                do throws(RKNPUError) {
                    try self.run(b.slices[i], of: b, a: shared.base, bytes: tile.padded * bytesPerRow, tile: tile) {
                        readC(b.slices[i], tile, $0)
                    }
                } catch {
                    failure.keep(error)
                }
            }
            if b.slices.count == 1 {
                work(0)
            } else {
                DispatchQueue.concurrentPerform(iterations: b.slices.count, execute: work)
            }
            if let error = failure.error { throw ComputeError(.backendFailure, "rknpu: \(error.message)") }
        }
    }

    private func run(
        _ slice: DeviceWeight.Slice, of b: DeviceWeight, a: UnsafeMutableRawPointer, bytes: Int, tile: Tile,
        readC: (UnsafeRawPointer) -> Void
    ) throws(RKNPUError) {
        let core = cores[slice.core]
        let key = KernelKey(m: tile.padded, k: b.paddedK, n: slice.width, type: b.precision.matmulType)
        try core.kernels.withLock { (kernels) throws(RKNPUError) in
            let kernel: MatmulKernel
            if let cached = kernels[key] {
                kernel = cached
            } else {
                kernel = try MatmulKernel(
                    runtime: runtime, m: key.m, k: key.k, n: key.n, type: key.type, core: core.index)
                kernels[key] = kernel
            }
            MatmulKernel.address(kernel.a).copyMemory(from: a, byteCount: bytes)
            try kernel.run(runtime, b: slice.mem)
            readC(UnsafeRawPointer(MatmulKernel.address(kernel.c)))
        }
    }
}

/// A raw address shared with the cores' threads (each reads it; the tile loop writes it between runs).
private struct SharedRawPointer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    init(_ base: UnsafeMutableRawPointer) { self.base = base }
}

/// The first error any core's thread reported.
private final class FirstError: Sendable {
    private let first = Mutex<RKNPUError?>(nil)
    func keep(_ error: RKNPUError) { first.withLock { $0 = $0 ?? error } }
    var error: RKNPUError? { first.withLock { $0 } }
}
