import Tensors

/// A place where ops run, in the "bring your own code" style: a backend says which ops it runs
/// (`supports`), lays weights out in its native form once at load (`prepare`), and runs those ops;
/// the `ComputeEngine` sends everything it declines to the CPU backend.
///
/// Modelled on ggml-backend (`supports_op`, buffer `set_tensor` as the re-layout hook) and the RK3588
/// matmul API (B in native layout, A copied in, C copied out): see research/backends.md.
///
/// Activations are f32 tensors in host memory; a backend copies them in and out as it needs.
/// Outputs are passed `inout` and must already have their final shape.
///
/// - Important: An op method is only called for an op `supports` accepted, and a prepared-weight op only
///   with a weight this backend prepared (`PreparedWeight.native(for:)`). Ops a backend does not
///   implement keep the default, which throws `.unsupported`.
public protocol Backend: Sendable {
    /// Short name used in logs and in `--backend` ("cpu", "rknpu", …).
    var name: String { get }

    /// Whether this backend runs `op` with these shapes and types.
    func supports(_ op: Op) -> Bool

    /// Re-lays `weight` (PyTorch layout, any element type) into this backend's native form for `use`.
    /// Returns nil when the backend will not run ops with this weight (the CPU then does).
    /// Called once per weight, at load.
    func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor?

    /// y[m, n] = x[m, k] · Wᵀ + bias, with W prepared for `.linear`.
    func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError)

    /// c = alpha · a · b (or a · bᵀ) + beta · c, batch by batch; a batch of b serves
    /// `a.batch / b.batch` consecutive batches of a (grouped-query attention).
    func matmul(
        _ a: Tensor, _ av: MatrixView, _ b: Tensor, _ bv: MatrixView, transposeB: Bool, alpha: Float, beta: Float,
        into c: inout Tensor, _ cv: MatrixView
    ) throws(ComputeError)

    /// y[cout, tout] = conv1d(x[cin, t]) + bias.
    func conv1d(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, params: Conv1DParams, into y: inout Tensor)
        throws(ComputeError)

    /// y[cout, tout] = convTranspose1d(x[cin, t]) + bias.
    func convTranspose1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError)

    /// Layer norm over `axis` of x: (x − mean) / sqrt(var + eps) · gamma + beta, in place.
    func layerNorm(_ x: inout Tensor, axis: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float) throws(ComputeError)

    /// RMS norm over the last axis: x / sqrt(mean(x²) + eps) · gamma, in place.
    func rmsNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float) throws(ComputeError)

    /// Softmax over the last axis of x, in place. With `causalOffset` c, row i of each matrix (the last two
    /// axes, e.g. one head's [queries, keys] scores) keeps only columns j ≤ i + c, the rest become 0: the
    /// mask of a decoder whose queries follow c cached positions.
    func softmax(_ x: inout Tensor, causalOffset: Int?) throws(ComputeError)

    /// x = f(x), in place.
    func activation(_ f: Activation, _ x: inout Tensor) throws(ComputeError)

    /// y = f(x), y the same shape as x (its contents are overwritten): for an x still needed afterwards.
    func activation(_ f: Activation, _ x: Tensor, into y: inout Tensor) throws(ComputeError)

    /// a = a op b, in place; b broadcasts to a's shape (NumPy rules, right-aligned).
    func binary(_ op: BinaryOp, _ a: inout Tensor, _ b: Tensor) throws(ComputeError)

    /// y[i, :] = table[ids[i], :], with the table prepared for `.embedding`. Ids are checked by the caller.
    func embedding(_ table: PreparedWeight, ids: [Int32], into y: inout Tensor) throws(ComputeError)

    /// Rotary position embedding of x [tokens, heads, headDim] in place; token i sits at position
    /// `positions[i]`; frequencies base^(−2j/rotaryDim) · freqScale over the first `rotaryDim` features.
    func rope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int, base: Float, freqScale: Float, mode: RoPEMode
    ) throws(ComputeError)

    /// y = xᵀ for x [rows, cols].
    func transpose(_ x: Tensor, into y: inout Tensor) throws(ComputeError)

    /// Multi-head attention: for each head b and row r of q, out[b][r] = softmax(scale · q[b][r] · k[b / g]ᵀ) ·
    /// v[b / g], g = q.batch / k.batch (grouped-query attention). Heads are the views' batches, so they can be
    /// read straight out of fused projections. With `causalOffset` c, row r sees keys 0...r + c only.
    /// k and v may be f16 (a cache kept in half precision); q and out are f32.
    func attention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int?, into out: inout Tensor, _ ov: MatrixView
    ) throws(ComputeError)
}

extension Backend {
    public func prepare(_ weight: Tensor, for use: WeightUse) throws(ComputeError) -> Tensor? { nil }

    public func linear(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, into y: inout Tensor) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run linear")
    }

    public func matmul(
        _ a: Tensor, _ av: MatrixView, _ b: Tensor, _ bv: MatrixView, transposeB: Bool, alpha: Float, beta: Float,
        into c: inout Tensor, _ cv: MatrixView
    ) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run matmul")
    }

    public func conv1d(_ x: Tensor, weight: PreparedWeight, bias: Tensor?, params: Conv1DParams, into y: inout Tensor)
        throws(ComputeError)
    {
        throw ComputeError(.unsupported, "\(name) does not run conv1d")
    }

    public func convTranspose1d(
        _ x: Tensor, weight: PreparedWeight, bias: Tensor?, params: ConvTranspose1DParams, into y: inout Tensor
    ) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run conv_transpose1d")
    }

    public func layerNorm(_ x: inout Tensor, axis: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float)
        throws(ComputeError)
    {
        throw ComputeError(.unsupported, "\(name) does not run layer_norm")
    }

    public func rmsNorm(_ x: inout Tensor, gamma: Tensor?, epsilon: Float) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run rms_norm")
    }

    public func softmax(_ x: inout Tensor, causalOffset: Int?) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run softmax")
    }

    public func activation(_ f: Activation, _ x: inout Tensor) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run \(f)")
    }

    /// A copy of x, then the in-place form.
    public func activation(_ f: Activation, _ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        y = x
        try activation(f, &y)
    }

    public func binary(_ op: BinaryOp, _ a: inout Tensor, _ b: Tensor) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run \(op.rawValue)")
    }

    public func embedding(_ table: PreparedWeight, ids: [Int32], into y: inout Tensor) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run embedding")
    }

    public func rope(
        _ x: inout Tensor, positions: [Int32], rotaryDim: Int, base: Float, freqScale: Float, mode: RoPEMode
    ) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run rope")
    }

    public func transpose(_ x: Tensor, into y: inout Tensor) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run transpose")
    }

    public func attention(
        _ q: Tensor, _ qv: MatrixView, _ k: Tensor, _ kv: MatrixView, _ v: Tensor, _ vv: MatrixView, scale: Float,
        causalOffset: Int?, into out: inout Tensor, _ ov: MatrixView
    ) throws(ComputeError) {
        throw ComputeError(.unsupported, "\(name) does not run attention")
    }
}

/// Shape checks shared by every backend's attention.
public enum AttentionShape {
    /// Throws unless q, k, v and out agree (heads, rows, widths, grouping) and every view lies within its tensor.
    public static func check(
        _ qv: MatrixView, _ kv: MatrixView, _ vv: MatrixView, _ ov: MatrixView, counts: (Int, Int, Int, Int)
    ) throws(ComputeError) {
        guard kv.batch >= 1, qv.batch % kv.batch == 0, vv.batch == kv.batch, ov.batch == qv.batch,
            kv.cols == qv.cols, vv.rows == kv.rows, ov.rows == qv.rows, ov.cols == vv.cols
        else {
            throw .shape(
                "attention: q [\(qv.batch), \(qv.rows), \(qv.cols)], k [\(kv.batch), \(kv.rows), \(kv.cols)], v [\(vv.batch), \(vv.rows), \(vv.cols)] into [\(ov.batch), \(ov.rows), \(ov.cols)]"
            )
        }
        guard qv.extent <= counts.0, kv.extent <= counts.1, vv.extent <= counts.2, ov.extent <= counts.3,
            qv.rowStride >= qv.cols, kv.rowStride >= kv.cols, vv.rowStride >= vv.cols, ov.rowStride >= ov.cols
        else { throw .shape("attention: a view reaches outside its tensor") }
    }
}

/// A weight made ready for the ops that use it, once, at load: the CPU's form (always there, so the
/// CPU can take over any op) and, when the bound backend accepted it, that backend's native form.
public struct PreparedWeight: Sendable {
    /// The weight as read from the model file (PyTorch layout, file element type).
    public let original: Tensor
    /// What the weight is for.
    public let use: WeightUse
    /// The CPU backend's form of the weight.
    public let cpu: Tensor
    /// The bound backend's native form, if it took the weight.
    public let native: Tensor?
    /// Name of the backend `native` belongs to.
    public let nativeBackend: String?
    /// The CPU's compact copy for matrix-vector products: an f16 linear weight kept in f16, so decoding a
    /// token reads half the bytes (Whisper's 51864×384 output projection: 40 MB instead of 80 MB).
    public let compact: Tensor?
    /// The CPU's weight re-laid once for its AVX-512 kernels: a conv1d weight as the GEMM packs A (rather than for
    /// every time tile), a q4 linear weight in interleaved row groups for decoding.
    public let packed: Tensor?
    /// The CPU's conv1d weight transformed for Winograd F(4, r) where that pays (`Conv1DKernel.winogradForm`).
    public let winograd: Tensor?

    public init(
        original: Tensor, use: WeightUse, cpu: Tensor, native: Tensor?, nativeBackend: String?, compact: Tensor? = nil,
        packed: Tensor? = nil, winograd: Tensor? = nil
    ) {
        self.original = original
        self.use = use
        self.cpu = cpu
        self.native = native
        self.nativeBackend = nativeBackend
        self.compact = compact
        self.packed = packed
        self.winograd = winograd
    }

    /// `weight` prepared for `use` with `cpu` as the CPU's form and the CPU kernels' own copies derived from it
    /// (compact f16, packed, Winograd), as the engine keeps it beside a bound backend's `native` form.
    static func withCPUForms(
        _ weight: Tensor, use: WeightUse, cpu: Tensor, native: Tensor?, nativeBackend: String?
    ) -> PreparedWeight {
        PreparedWeight(
            original: weight, use: use, cpu: cpu, native: native, nativeBackend: nativeBackend,
            compact: compactForm(of: weight, use: use), packed: CPUBackend.packedForm(of: cpu, use: use),
            winograd: Conv1DKernel.winogradForm(of: cpu, use: use))
    }

    /// The compact copy `prepare` keeps for `weight`, if any.
    static func compactForm(of weight: Tensor, use: WeightUse) -> Tensor? {
        use == .linear && weight.dtype == .f16 && weight.rank == 2 ? weight : nil
    }

    /// Element type the weight is stored in (as the model file has it).
    public var dtype: DType { original.dtype }
    /// Shape of the weight in PyTorch layout.
    public var shape: [Int] { original.shape }

    /// The native form prepared by `backend`, if any.
    public func native(for backend: String) -> Tensor? { nativeBackend == backend ? native : nil }
}
