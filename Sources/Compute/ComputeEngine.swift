import Foundation
import Logging
import Synchronization
import Tensors

/// What model code computes with: one bound backend plus the CPU, which runs every op the bound
/// backend declines (ggml's scheduler rule: the CPU is last and always present).
///
/// Model stages are written against this type, never against a concrete backend. Weights are
/// prepared once, at load, with `prepare(_:for:)`; each op then goes to the bound backend when it
/// `supports` the op (and, for weight ops, took the weight at load), else to the CPU.
public struct ComputeEngine: Sendable {
    /// The backend ops go to first.
    public let backend: any Backend
    /// The fallback that runs everything.
    public let cpu: CPUBackend
    /// Where each op ran and how long it took, when asked for (nil: nothing is measured).
    public let profile: ComputeProfile?
    private let logger = Logger(label: "hark.compute")

    /// - Parameters:
    ///   - backend: where ops go first; nil binds the CPU itself.
    ///   - threads: CPU cores for the CPU backend; nil uses all.
    ///   - profile: records every op dispatched (for `--profile`); nil records nothing.
    public init(backend: (any Backend)? = nil, threads: Int? = nil, profile: ComputeProfile? = nil) {
        let cpu = CPUBackend(threads: threads)
        self.cpu = cpu
        self.backend = backend ?? cpu
        self.profile = profile
    }

    /// The backends `--backend` names.
    public static let backendNames = ["cpu", "rknpu"]

    /// An engine bound to the backend called `name`. Policy: a backend asked for by name that cannot start
    /// (no runtime library, no device) is an error, so a user who asked for the NPU never silently gets
    /// the CPU; ops the started backend declines still run on the CPU.
    public init(backendNamed name: String, threads: Int? = nil, profile: ComputeProfile? = nil)
        throws(ComputeError)
    {
        switch name {
        case "cpu":
            self.init(threads: threads, profile: profile)
        case "rknpu":
            do {
                self.init(backend: try RKNPUBackend(), threads: threads, profile: profile)
            } catch {
                throw ComputeError(.backendFailure, "--backend rknpu: \(error.message)")
            }
        default:
            throw ComputeError(
                .unsupported,
                "unknown backend '\(name)' (available: \(Self.backendNames.joined(separator: ", ")))")
        }
    }

    /// An engine bound to `name` when that backend starts, else a CPU engine and the reason it did not:
    /// for callers that prefer an accelerator but must keep working without one (a daemon's default).
    public static func preferring(_ name: String, threads: Int? = nil, profile: ComputeProfile? = nil)
        -> (engine: ComputeEngine, fallback: ComputeError?)
    {
        do {
            return (try ComputeEngine(backendNamed: name, threads: threads, profile: profile), nil)
        } catch {
            return (ComputeEngine(threads: threads, profile: profile), error)
        }
    }

    /// Whether the bound backend is the CPU itself.
    public var isCPUOnly: Bool { backend is CPUBackend }

    /// The backend that runs `op` with a weight prepared as `weight` (for placement reports).
    public func placement(of op: Op, weight: PreparedWeight? = nil) -> String {
        useBound(op, weight) ? backend.name : cpu.name
    }

    private func useBound(_ op: Op, _ weight: PreparedWeight?) -> Bool {
        guard !isCPUOnly, backend.supports(op) else { return false }
        if let weight { return weight.native(for: backend.name) != nil }
        return true
    }

    /// Runs `op` on the bound backend when it takes it, else on the CPU. A bound backend that fails
    /// at run time is logged and the CPU redoes the op, so an accelerator hiccup never loses a result.
    @inline(__always)
    private func dispatch(
        _ op: Op, weight: PreparedWeight? = nil, _ body: (any Backend) throws(ComputeError) -> Void
    ) throws(ComputeError) {
        guard let profile else {
            _ = try place(op, weight, body)
            return
        }
        let start = ContinuousClock.now
        let ranOn = try place(op, weight, body)
        profile.record(
            op, on: ranOn.name, time: ContinuousClock.now - start,
            transfers: (ranOn as? any DeviceTransfers)?.transferBytes(for: op) ?? (0, 0))
    }

    /// Runs `op` where it belongs and returns the backend that ran it.
    @inline(__always)
    private func place(
        _ op: Op, _ weight: PreparedWeight?, _ body: (any Backend) throws(ComputeError) -> Void
    ) throws(ComputeError) -> any Backend {
        if useBound(op, weight) {
            do {
                try body(backend)
                return backend
            } catch {
                logger.warning("\(backend.name) failed on \(op): \(error.message); running it on the CPU")
            }
        }
        try body(cpu)
        return cpu
    }

    // MARK: - Weights

    /// Prepares `weight` for `use`: always the CPU's form, plus the bound backend's native form when
    /// it takes it. Call once per weight, at load.
    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> PreparedWeight {
        let cpuForm = try cpu.prepare(weight, for: use) ?? weight
        var native: Tensor? = nil
        if !isCPUOnly {
            do {
                native = try backend.prepare(weight, for: use)
            } catch {
                logger.info("\(backend.name) declined a \(weight.dtype) \(weight.shape) weight: \(error.message)")
            }
        }
        return PreparedWeight.withCPUForms(
            weight, use: use, cpu: cpuForm, native: native, nativeBackend: native == nil ? nil : backend.name)
    }

    // MARK: - Ops (see `Backend` for each op's contract)

    public func linear(
        _ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, into y: inout Tensor, arithmetic: Arithmetic = .native
    ) throws(ComputeError) {
        let (n, k) = (w.shape[0], w.shape[1])
        let op = Op.linear(m: x.count / max(k, 1), k: k, n: n, weight: w.dtype)
        try dispatch(op, weight: w) { b throws(ComputeError) in
            if arithmetic == .ggml, let cpu = b as? CPUBackend {
                try cpu.ggmlLinear(x, weight: w, bias: bias, into: &y)
            } else {
                try b.linear(x, weight: w, bias: bias, into: &y)
            }
        }
    }

    /// Allocating form of `linear`: returns y with x's leading shape and `out` features.
    public func linear(_ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil) throws(ComputeError) -> Tensor {
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [w.shape[0]])
        try linear(x, w, bias: bias, into: &y)
        return y
    }

    public func matmul(
        _ a: Tensor, _ av: MatrixView, _ b: Tensor, _ bv: MatrixView, transposeB: Bool = false, alpha: Float = 1,
        beta: Float = 0, into c: inout Tensor, _ cv: MatrixView
    ) throws(ComputeError) {
        let op = Op.matmul(batch: av.batch, m: av.rows, k: av.cols, n: cv.cols, transposeB: transposeB)
        try dispatch(op) { be throws(ComputeError) in
            try be.matmul(a, av, b, bv, transposeB: transposeB, alpha: alpha, beta: beta, into: &c, cv)
        }
    }

    public func conv1d(
        _ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, params: Conv1DParams, into y: inout Tensor
    )
        throws(ComputeError)
    {
        let op = Op.conv1d(
            inChannels: x.shape[0], outChannels: w.shape[0], kernel: w.shape[2], length: x.shape.last ?? 0,
            params: params, weight: w.dtype)
        try dispatch(op, weight: w) { b throws(ComputeError) in
            try b.conv1d(x, weight: w, bias: bias, params: params, into: &y)
        }
    }

    /// Allocating form of `conv1d`.
    public func conv1d(_ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, params: Conv1DParams)
        throws(ComputeError) -> Tensor
    {
        guard x.rank == 2 else { throw .shape("conv1d: input must be [channels, time], got \(x.shape)") }
        var y = Self.output([w.shape[0], params.outputLength(input: x.shape[1], kernel: w.shape[2])])
        try conv1d(x, w, bias: bias, params: params, into: &y)
        return y
    }

    /// conv1d(lrelu(x)) + bias (+ residual), `inputSlope` the leaky ReLU's slope: HiFi-GAN's residual step as
    /// one op. On the CPU the activation is applied as the kernel copies x and the product accumulates onto the
    /// residual, so neither takes a pass over memory of its own; a bound backend that takes the conv runs the three
    /// ops one by one.
    public func conv1d(
        _ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, params: Conv1DParams, inputSlope: Float,
        residual: Tensor? = nil
    ) throws(ComputeError) -> Tensor {
        guard x.rank == 2 else { throw .shape("conv1d: input must be [channels, time], got \(x.shape)") }
        let op = Op.conv1d(
            inChannels: x.shape[0], outChannels: w.shape[0], kernel: w.shape[2], length: x.shape[1], params: params,
            weight: w.dtype)
        if useBound(op, w) {
            var y = try conv1d(try activation(.leakyReLU(slope: inputSlope), x), w, bias: bias, params: params)
            if let residual { try add(&y, residual) }
            return y
        }
        var y = Self.output([w.shape[0], params.outputLength(input: x.shape[1], kernel: w.shape[2])])
        let cpu = cpu
        try dispatch(op, weight: w) { _ throws(ComputeError) in
            try cpu.conv1d(
                x, weight: w, bias: bias, params: params, inputSlope: inputSlope, residual: residual, into: &y)
        }
        return y
    }

    public func convTranspose1d(
        _ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, params: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError) {
        let op = Op.convTranspose1d(
            inChannels: x.shape[0], outChannels: w.shape[1] * params.groups, kernel: w.shape[2],
            length: x.shape.last ?? 0, params: params, weight: w.dtype)
        try dispatch(op, weight: w) { b throws(ComputeError) in
            try b.convTranspose1d(x, weight: w, bias: bias, params: params, into: &y)
        }
    }

    /// Allocating form of `convTranspose1d`.
    public func convTranspose1d(_ x: Tensor, _ w: PreparedWeight, bias: Tensor? = nil, params: ConvTranspose1DParams)
        throws(ComputeError) -> Tensor
    {
        guard x.rank == 2 else { throw .shape("conv_transpose1d: input must be [channels, time], got \(x.shape)") }
        var y = Self.output([w.shape[1] * params.groups, params.outputLength(input: x.shape[1], kernel: w.shape[2])])
        try convTranspose1d(x, w, bias: bias, params: params, into: &y)
        return y
    }

    public func layerNorm(_ x: inout Tensor, axis: Int = -1, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5)
        throws(ComputeError)
    {
        let a = axis < 0 ? x.rank + axis : axis
        guard a >= 0, a < x.rank else { throw .shape("layer_norm: axis \(axis) of \(x.shape)") }
        let op = Op.layerNorm(
            outer: x.shape[..<a].reduce(1, *), n: x.shape[a], inner: x.shape[(a + 1)...].reduce(1, *))
        try dispatch(op) { b throws(ComputeError) in
            try b.layerNorm(&x, axis: a, gamma: gamma, beta: beta, epsilon: epsilon)
        }
    }

    public func rmsNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float = 1e-6, arithmetic: Arithmetic = .native)
        throws(ComputeError)
    {
        let n = x.shape.last ?? 0
        try dispatch(.rmsNorm(rows: x.count / max(n, 1), n: n)) { b throws(ComputeError) in
            if arithmetic == .ggml, let cpu = b as? CPUBackend {
                try cpu.ggmlRMSNorm(&x, gamma: gamma, epsilon: epsilon)
            } else {
                try b.rmsNorm(&x, gamma: gamma, epsilon: epsilon)
            }
        }
    }

    public func softmax(_ x: inout Tensor, causalOffset: Int? = nil) throws(ComputeError) {
        let n = x.shape.last ?? 0
        try dispatch(.softmax(rows: x.count / max(n, 1), n: n)) { b throws(ComputeError) in
            try b.softmax(&x, causalOffset: causalOffset)
        }
    }

    public func activation(_ f: Activation, _ x: inout Tensor) throws(ComputeError) {
        try dispatch(.activation(f, count: x.count)) { b throws(ComputeError) in try b.activation(f, &x) }
    }

    /// An f32 output for an op whose contract is to write every element (convolutions): not zeroed first, which
    /// for the decoder's megabyte outputs was a pass over memory on one thread.
    static func output(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, dtype: .f32, storage: TensorStorage(uninitializedBytes: max(0, shape.reduce(1, *)) * 4))
    }

    /// f(x) as a new tensor, x left as it is (one pass, where a copy and the in-place form would make two).
    public func activation(_ f: Activation, _ x: Tensor) throws(ComputeError) -> Tensor {
        guard x.dtype == .f32 else {
            var y = x
            try activation(f, &y)
            return y
        }
        var y = Self.output(x.shape)
        try dispatch(.activation(f, count: x.count)) { b throws(ComputeError) in try b.activation(f, x, into: &y) }
        return y
    }

    public func add(_ a: inout Tensor, _ b: Tensor) throws(ComputeError) {
        try dispatch(.binary(.add, count: a.count)) { be throws(ComputeError) in try be.binary(.add, &a, b) }
    }

    public func mul(_ a: inout Tensor, _ b: Tensor) throws(ComputeError) {
        try dispatch(.binary(.mul, count: a.count)) { be throws(ComputeError) in try be.binary(.mul, &a, b) }
    }

    /// gate = silu(gate) · up (SwiGLU), both [rows, n].
    public func swiglu(_ gate: inout Tensor, _ up: Tensor, arithmetic: Arithmetic = .native) throws(ComputeError) {
        if arithmetic == .ggml {
            // One op in llama.cpp's graph, ggml's exp inside: the CPU's, wherever the products run.
            return try cpu.ggmlSwiGLU(&gate, up)
        }
        try activation(.silu, &gate)
        try mul(&gate, up)
    }

    public func embedding(_ table: PreparedWeight, ids: [Int32], into y: inout Tensor) throws(ComputeError) {
        let op = Op.embedding(vocab: table.shape[0], dim: table.shape[1], count: ids.count, table: table.dtype)
        try dispatch(op, weight: table) { b throws(ComputeError) in try b.embedding(table, ids: ids, into: &y) }
    }

    public func rope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int? = nil, base: Float, freqScale: Float = 1,
        mode: RoPEMode, arithmetic: Arithmetic = .native
    ) throws(ComputeError) {
        guard x.rank == 3 else { throw .shape("rope: x must be [tokens, heads, headDim], got \(x.shape)") }
        let op = Op.rope(tokens: x.shape[0], heads: x.shape[1], headDim: x.shape[2], mode: mode)
        let dims = rotaryDim ?? x.shape[2]
        try dispatch(op) { b throws(ComputeError) in
            if arithmetic == .ggml, let cpu = b as? CPUBackend {
                try cpu.ggmlRope(
                    &x, positions: positions, rotaryDim: dims, base: base, freqScale: freqScale, mode: mode)
            } else {
                try b.rope(&x, positions: positions, rotaryDim: dims, base: base, freqScale: freqScale, mode: mode)
            }
        }
    }

    public func transpose(_ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        guard x.rank == 2 else { throw .shape("transpose: x must be rank 2, got \(x.shape)") }
        try dispatch(.transpose(rows: x.shape[0], cols: x.shape[1])) { b throws(ComputeError) in
            try b.transpose(x, into: &y)
        }
    }

    /// Multi-head attention (see `Backend.attention`); backends without it leave it to the CPU.
    public func attention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int? = nil, into out: inout Tensor, _ ov: MatrixView, arithmetic: Arithmetic = .native
    ) throws(ComputeError) {
        let op = Op.attention(
            heads: qv.batch, kvHeads: kv.batch, rows: qv.rows, keys: kv.rows, headDim: qv.cols,
            causal: causalOffset != nil)
        try dispatch(op) { b throws(ComputeError) in
            if arithmetic == .ggml, let cpu = b as? CPUBackend {
                try cpu.ggmlAttention(q, qv, k, kv, v, vv, scale: scale, causalOffset: causalOffset, into: &out, ov)
            } else {
                try b.attention(q, qv, k, kv, v, vv, scale: scale, causalOffset: causalOffset, into: &out, ov)
            }
        }
    }

    /// Allocating form of `transpose`.
    public func transposed(_ x: Tensor) throws(ComputeError) -> Tensor {
        guard x.rank == 2 else { throw .shape("transpose: x must be rank 2, got \(x.shape)") }
        var y = Tensor(zeros: [x.shape[1], x.shape[0]])
        try transpose(x, into: &y)
        return y
    }
}

// MARK: - Profile

/// A backend that copies operands to and from device memory says how many bytes an op moves.
public protocol DeviceTransfers {
    func transferBytes(for op: Op) -> (toDevice: Int, fromDevice: Int)
}

/// Per op kind and backend: how many ops ran, their time and the bytes copied to and from the device.
/// An engine records into one only when given one, so an engine without a profile pays nothing.
public final class ComputeProfile: Sendable {
    public struct Key: Hashable, Sendable, Comparable {
        /// The op's name ("linear", "conv1d", …).
        public let op: String
        /// The backend that ran it.
        public let backend: String
        public static func < (a: Key, b: Key) -> Bool { (a.op, a.backend) < (b.op, b.backend) }
    }

    public struct Entry: Sendable {
        public var count = 0
        public var time: Duration = .zero
        public var bytesToDevice = 0
        public var bytesFromDevice = 0
        /// Multiply-accumulates of the products (0 for other ops), for cost projections.
        public var macs = 0
    }

    private let entries = Mutex<[Key: Entry]>([:])

    public init() {}

    func record(_ op: Op, on backend: String, time: Duration, transfers: (toDevice: Int, fromDevice: Int)) {
        entries.withLock { e in
            var entry = e[Key(op: op.name, backend: backend), default: Entry()]
            entry.count += 1
            entry.time += time
            entry.bytesToDevice += transfers.toDevice
            entry.bytesFromDevice += transfers.fromDevice
            entry.macs += op.multiplyAccumulates
            e[Key(op: op.name, backend: backend)] = entry
        }
    }

    /// What was recorded, by op and backend.
    public var snapshot: [(key: Key, entry: Entry)] {
        entries.withLock { $0.map { (key: $0.key, entry: $0.value) } }.sorted { $0.key < $1.key }
    }

    /// One line per op kind and backend: count, time, bytes copied to and from the device.
    public var report: [String] {
        snapshot.map { key, e in
            let ms = Double(e.time.components.seconds) * 1e3 + Double(e.time.components.attoseconds) * 1e-15
            var line = "\(key.op) on \(key.backend): \(e.count) ops, \(String(format: "%.3f", ms)) ms"
            if e.bytesToDevice + e.bytesFromDevice > 0 {
                line += ", \(e.bytesToDevice) B to the device, \(e.bytesFromDevice) B back"
            }
            return line
        }
    }
}

extension Op {
    /// Multiply-accumulates of a product op; 0 for the others.
    public var multiplyAccumulates: Int {
        switch self {
        case .linear(let m, let k, let n, _): m * k * n
        case .matmul(let b, let m, let k, let n, _): b * m * k * n
        case .conv1d(let cin, let cout, let kernel, let length, let p, _):
            p.outputLength(input: length, kernel: kernel) * cout * (cin / max(p.groups, 1)) * kernel
        case .convTranspose1d(let cin, let cout, let kernel, let length, let p, _):
            length * cin * (cout / max(p.groups, 1)) * kernel
        default: 0
        }
    }
}
