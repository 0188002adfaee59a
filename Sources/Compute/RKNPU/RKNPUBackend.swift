// The RK3588 NPU behind the backend layer, through librknnrt's matmul API (research/backends.md §1):
// weights re-laid into B's native fp16 layout once at load and kept in NPU buffers, A written and C read
// in native layout on every call, one matmul context per (M, K, N) shape and core, the work split along N
// over the three cores with one CPU thread per core (rknn_matmul_run blocks).
import Dispatch
import Logging
import Synchronization
import Tensors

/// The RK3588 NPU backend: linear, conv1d (im2col) and conv-transpose1d (col2im) as fp16 × fp16 → fp32
/// matmuls; the CPU runs everything else.
///
/// What it declines (the engine then uses the CPU): matrix-vector products (fewer than `minimumRows` rows:
/// bound by memory bandwidth, which the NPU shares with the CPU, so copies only add time), products whose
/// padding to the NPU's alignment (K to 32, N to 16) would more than double the work, K beyond 8192 (the
/// SDK's own statements disagree there), grouped convolutions, block-quantized weights (int8 per-channel
/// B is not done yet), and matmuls on activations (B would need a re-layout on every call).
///
/// - Important: Weight buffers are allocated through one long-lived context per core and bound to the
///   per-shape contexts of that core. The emulator allows this; on hardware it rests on contexts of one
///   iommu domain sharing memory (unverified: a refusal surfaces as a run error, and the engine redoes the
///   op on the CPU).
public struct RKNPUBackend: Backend, DeviceTransfers {
    public let name = "rknpu"
    /// Products with fewer rows than this stay on the CPU.
    public let minimumRows: Int
    let device: RKNPUDevice

    /// The runtime's version line, as it reported it at start.
    public var version: String { device.version }
    /// The library the runtime was loaded from.
    public var libraryPath: String { device.runtime.path }
    /// NPU cores in use.
    public var cores: Int { device.cores.count }

    /// Loads the runtime and opens one context per core.
    /// - Parameters:
    ///   - libraryPath: librknnrt.so to load; nil uses `HARK_RKNN_LIB`, else the system's.
    ///   - cores: NPU cores to spread work over (RK3588 has 3).
    ///   - minimumRows: products with fewer rows stay on the CPU.
    public init(libraryPath: String? = nil, cores: Int = 3, minimumRows: Int = 2) throws(RKNPUError) {
        device = try RKNPUDevice(path: libraryPath ?? RKNNRuntime.defaultPath, cores: max(1, min(cores, 3)))
        self.minimumRows = max(1, minimumRows)
    }

    // MARK: - What runs here

    /// Largest K this backend sends (see the type's note).
    static let maximumK = 8192

    /// The padded sizes of a K × N weight, or nil when the NPU should not take it.
    public static func padded(k: Int, n: Int) -> (k: Int, n: Int)? {
        guard k > 0, n > 0 else { return nil }
        let pk = NativeLayout.roundUp(k, 32)
        let pn = NativeLayout.roundUp(n, 16)
        guard pk <= maximumK, pk * pn <= 2 * k * n else { return nil }
        return (pk, pn)
    }

    static func takes(_ dtype: DType) -> Bool { dtype == .f32 || dtype == .f16 || dtype == .bf16 }

    public func supports(_ op: Op) -> Bool { Self.takes(op, minimumRows: minimumRows) }

    /// Whether an RKNPU backend with `minimumRows` takes `op` (no device needed: for cost projections too).
    public static func takes(_ op: Op, minimumRows: Int = 2) -> Bool {
        switch op {
        case .linear(let m, let k, let n, let w):
            return takes(w) && m >= minimumRows && padded(k: k, n: n) != nil
        case .conv1d(let cin, let cout, let kernel, let length, let p, let w):
            return takes(w) && p.groups == 1 && p.outputLength(input: length, kernel: kernel) >= minimumRows
                && padded(k: cin * kernel, n: cout) != nil
        case .convTranspose1d(let cin, let cout, let kernel, let length, let p, let w):
            return takes(w) && p.groups == 1 && length >= minimumRows && padded(k: cin, n: cout * kernel) != nil
        default:
            return false
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

    /// Lays `weight` out as B (N/16, K/32, 16, 32) fp16 and copies it into NPU buffers, one slice of N per
    /// core. Returns the host copy of the native form (its identity finds the NPU buffers at run time).
    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? {
        guard Self.takes(weight.dtype), let (k, n, order) = Self.geometry(weight, use),
            let (pk, pn) = Self.padded(k: k, n: n)
        else { return nil }
        var native = Tensor(zeros: [pn / 16, pk / 32, 16, 32], dtype: .f16)
        let source = weight.toF32()
        source.withUnsafeFloats { w in
            native.withUnsafeMutableBytes { out in
                NativeLayout.packB(
                    w.baseAddress!, order: order, k: k, n: n, paddedK: pk, paddedN: pn,
                    into: out.baseAddress!.assumingMemoryBound(to: Float16.self))
            }
        }
        do {
            try device.upload(native, k: k, n: n)
        } catch {
            throw ComputeError(.backendFailure, error.message)
        }
        return native
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
                    try device.product(rows: rows, weight: b) { r0, count, mb, a in
                        NativeLayout.packA(
                            xs.base + r0 * k, rows: count, k: k, rowStride: k, paddedM: mb, paddedK: b.paddedK, into: a)
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
        let (cin, length) = (x.shape[0], x.shape[1])
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
                    let pk = b.paddedK
                    try device.product(rows: tout, weight: b) { r0, count, mb, a in
                        a.initialize(repeating: 0, count: pk * mb)
                        for kk in 0..<(cin * kernel) {
                            let (c, j) = kk.quotientAndRemainder(dividingBy: kernel)
                            let src = xs.base + c * length
                            let dst = a + (kk / 8) * mb * 8 + kk % 8
                            let shift = j * p.dilation - p.padLeft
                            for m in 0..<count {
                                let pos = (r0 + m) * p.stride + shift
                                if pos >= 0 && pos < length { dst[m * 8] = Float16(src[pos]) }
                            }
                        }
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
                let pk = b.paddedK
                try device.product(rows: length, weight: b) { r0, count, mb, a in
                    a.initialize(repeating: 0, count: pk * mb)
                    for c in 0..<cin {
                        let src = xs.base + c * length + r0
                        let dst = a + (c / 8) * mb * 8 + c % 8
                        for m in 0..<count { dst[m * 8] = Float16(src[m]) }
                    }
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
        Self.transferBytes(for: op, cores: cores)
    }

    /// `transferBytes(for:)` for a backend with `cores` cores (no device needed).
    public static func transferBytes(for op: Op, cores: Int) -> (toDevice: Int, fromDevice: Int) {
        guard let (rows, k, n) = product(of: op), let (pk, pn) = padded(k: k, n: n) else { return (0, 0) }
        let slices = RKNPUDevice.split(paddedN: pn, cores: cores).count
        let paddedRows = RKNPUDevice.tiles(rows: rows).reduce(0) { $0 + $1.padded }
        return (paddedRows * pk * 2 * slices, paddedRows * pn * 4)
    }

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
        /// First column (a multiple of 16) and padded width of the slice.
        let n0: Int
        let width: Int
        /// Real (unpadded) columns in the slice.
        let columns: Int
        /// The rknn_tensor_mem holding the slice.
        let mem: UnsafeMutableRawPointer
    }

    /// Keeps the native tensor's storage alive, so its identity is never reused while registered.
    let storage: TensorStorage
    let k: Int
    let n: Int
    let paddedK: Int
    let paddedN: Int
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

    let runtime: RKNNRuntime
    let cores: [Core]
    let version: String
    private let weights = Mutex<[ObjectIdentifier: DeviceWeight]>([:])
    private let logger = Logger(label: "hark.compute.rknpu")

    init(path: String, cores count: Int) throws(RKNPUError) {
        let runtime = try RKNNRuntime(path: path)
        var cores: [Core] = []
        for i in 0..<count {
            // A smallest legal product per core: proves the runtime works here and owns the weight buffers.
            let home: MatmulKernel
            do {
                home = try MatmulKernel(runtime: runtime, m: 1, k: 32, n: 16, core: i)
            } catch {
                for core in cores { _ = runtime.destroy(core.home) }
                throw RKNPUError(
                    .runtimeFailure, "the NPU runtime '\(path)' loaded but refused a matmul on core \(i): \(error)")
            }
            _ = runtime.destroyMem(home.context, home.a)
            _ = runtime.destroyMem(home.context, home.c)
            home.ioAttr.deallocate()
            cores.append(Core(index: i, home: home.context))
        }
        self.runtime = runtime
        self.cores = cores
        version = runtime.version(context: cores[0].home) ?? "version unknown (rknn_query did not answer)"
        logger.info("rknpu: \(path), \(version), \(count) cores")
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

    /// Column ranges (start, width), multiples of 16, one per core that gets work.
    static func split(paddedN: Int, cores: Int) -> [(n0: Int, width: Int)] {
        let blocks = paddedN / 16
        let per = (blocks + cores - 1) / cores
        return stride(from: 0, to: blocks, by: per).map { ($0 * 16, min(per, blocks - $0) * 16) }
    }

    /// Rows go to the NPU in tiles of at most 512, each padded to a power of two (at least 8), so a model
    /// needs only a handful of contexts per weight shape whatever its sequence lengths.
    static func tiles(rows: Int) -> [(r0: Int, count: Int, padded: Int)] {
        stride(from: 0, to: rows, by: 512).map { r0 in
            let count = min(512, rows - r0)
            var padded = 8
            while padded < count { padded *= 2 }
            return (r0, count, padded)
        }
    }

    /// Copies a native B into one NPU buffer per core slice and registers it under the tensor's storage.
    func upload(_ native: Tensor, k: Int, n: Int) throws(RKNPUError) {
        let (pk, pn) = (native.shape[1] * 32, native.shape[0] * 16)
        var slices: [DeviceWeight.Slice] = []
        for (i, part) in Self.split(paddedN: pn, cores: cores.count).enumerated() {
            let bytes = part.width * pk * 2
            guard let mem = runtime.createMem(cores[i].home, UInt32(bytes)) else {
                for s in slices { _ = runtime.destroyMem(cores[s.core].home, s.mem) }
                throw RKNPUError(.runtimeFailure, "rknn_create_mem(\(bytes) bytes) for a weight failed")
            }
            native.withUnsafeBytes { src in
                MatmulKernel.address(mem).copyMemory(from: src.baseAddress! + part.n0 * pk * 2, byteCount: bytes)
            }
            slices.append(
                DeviceWeight.Slice(
                    core: i, n0: part.n0, width: part.width, columns: min(part.width, n - part.n0), mem: mem))
        }
        let weight = DeviceWeight(storage: native.storage, k: k, n: n, paddedK: pk, paddedN: pn, slices: slices)
        weights.withLock { $0[ObjectIdentifier(native.storage)] = weight }
    }

    func weight(for native: Tensor) -> DeviceWeight? {
        weights.withLock { $0[ObjectIdentifier(native.storage)] }
    }

    /// C = A · B over `rows` rows: for each tile, `fillA` writes native A once, then each core (on a thread
    /// of its own) copies it into its context, runs its slice of B and hands native C to `readC`, which must
    /// only write the slice's own columns.
    func product(
        rows: Int, weight b: DeviceWeight,
        fillA: (_ r0: Int, _ count: Int, _ paddedM: Int, _ a: UnsafeMutablePointer<Float16>) -> Void,
        readC:
            @escaping @Sendable (
                _ slice: DeviceWeight.Slice, _ r0: Int, _ count: Int, _ paddedM: Int, _ c: UnsafePointer<Float>
            ) -> Void
    ) throws(ComputeError) {
        let scratch = UnsafeMutablePointer<Float16>.allocate(capacity: b.paddedK * 512)
        defer { scratch.deallocate() }
        let shared = SharedPointer(scratch)
        let failure = FirstError()
        for tile in Self.tiles(rows: rows) {
            fillA(tile.r0, tile.count, tile.padded, scratch)
            let work: @Sendable (Int) -> Void = { i in
                do throws(RKNPUError) {
                    try self.run(b.slices[i], of: b, a: shared.base, tile: tile, readC: readC)
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
        _ slice: DeviceWeight.Slice, of b: DeviceWeight, a: UnsafeMutablePointer<Float16>,
        tile: (r0: Int, count: Int, padded: Int),
        readC: @Sendable (DeviceWeight.Slice, Int, Int, Int, UnsafePointer<Float>) -> Void
    ) throws(RKNPUError) {
        let core = cores[slice.core]
        let key = KernelKey(m: tile.padded, k: b.paddedK, n: slice.width, type: RKNN.float16ToFloat32)
        try core.kernels.withLock { (kernels) throws(RKNPUError) in
            let kernel: MatmulKernel
            if let cached = kernels[key] {
                kernel = cached
            } else {
                kernel = try MatmulKernel(runtime: runtime, m: key.m, k: key.k, n: key.n, core: core.index)
                kernels[key] = kernel
            }
            MatmulKernel.address(kernel.a).copyMemory(from: a, byteCount: key.m * key.k * 2)
            try kernel.run(runtime, b: slice.mem)
            let c = MatmulKernel.address(kernel.c).assumingMemoryBound(to: Float.self)
            readC(slice, tile.r0, tile.count, tile.padded, UnsafePointer(c))
        }
    }
}

/// The first error any core's thread reported.
private final class FirstError: Sendable {
    private let first = Mutex<RKNPUError?>(nil)
    func keep(_ error: RKNPUError) { first.withLock { $0 = $0 ?? error } }
    var error: RKNPUError? { first.withLock { $0 } }
}
