import Tensors

/// Element-wise nonlinearities.
public enum Activation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// GELU with the exact error function: x · Φ(x) (Whisper).
    case gelu
    /// GELU with the tanh approximation (GPT-2 style).
    case geluTanh
    /// x · sigmoid(x) (Llama's SwiGLU gate).
    case silu
    case relu
    /// max(x, slope · x) (HiFi-GAN uses 0.1, and 0.01 before conv_post).
    case leakyReLU(slope: Float)
    case tanh
    case sigmoid

    public var description: String {
        switch self {
        case .gelu: "gelu"
        case .geluTanh: "gelu_tanh"
        case .silu: "silu"
        case .relu: "relu"
        case .leakyReLU(let s): "leaky_relu(\(s))"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        }
    }
}

/// Element-wise binary operations (the right operand broadcasts, NumPy rules).
public enum BinaryOp: String, Sendable, Hashable, Codable { case add, mul }

/// How a 1-D convolution slides: PyTorch's `Conv1d` arguments, with asymmetric padding allowed.
public struct Conv1DParams: Sendable, Hashable, Codable {
    public var stride: Int
    public var dilation: Int
    public var padLeft: Int
    public var padRight: Int
    public var groups: Int

    public init(stride: Int = 1, dilation: Int = 1, padding: Int = 0, groups: Int = 1) {
        self.init(stride: stride, dilation: dilation, padLeft: padding, padRight: padding, groups: groups)
    }

    public init(stride: Int, dilation: Int, padLeft: Int, padRight: Int, groups: Int) {
        self.stride = stride
        self.dilation = dilation
        self.padLeft = padLeft
        self.padRight = padRight
        self.groups = groups
    }

    /// Output length for an input of `length` samples and a kernel of `kernel` taps.
    public func outputLength(input length: Int, kernel: Int) -> Int {
        (length + padLeft + padRight - dilation * (kernel - 1) - 1) / stride + 1
    }
}

/// PyTorch's `ConvTranspose1d` arguments.
public struct ConvTranspose1DParams: Sendable, Hashable, Codable {
    public var stride: Int
    public var dilation: Int
    public var padding: Int
    public var outputPadding: Int
    public var groups: Int

    public init(stride: Int = 1, dilation: Int = 1, padding: Int = 0, outputPadding: Int = 0, groups: Int = 1) {
        self.stride = stride
        self.dilation = dilation
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
    }

    /// Output length for an input of `length` samples and a kernel of `kernel` taps.
    public func outputLength(input length: Int, kernel: Int) -> Int {
        (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1
    }
}

/// Whose rounding the CPU follows for an op. Accelerator backends keep their own arithmetic either way.
public enum Arithmetic: String, Sendable, Hashable, Codable {
    /// Hark's own kernels: f32 activations, sums in whatever order is fastest.
    case native
    /// llama.cpp's CPU arithmetic (ggml-cpu's x86 build), reproduced operation for operation, so a GGUF model's
    /// logits equal llama.cpp's bit for bit: 8-bit activations before q4_0/q4_1/q8_0 products, f16 attention
    /// operands, ggml's exp approximation (`CPUBackend.ggmlLinear` and its neighbours).
    case ggml
}

/// How rotary position embeddings pair up the features of a head.
public enum RoPEMode: String, Sendable, Hashable, Codable {
    /// Pairs (2i, 2i+1): ggml's normal mode, used for Llama GGUFs.
    case interleaved
    /// Pairs (i, i + d/2): GPT-NeoX mode, used by Qwen2 and Hugging Face Llama.
    case halves
}

/// What a weight will be used for, so a backend can lay it out for that op once, at load.
public enum WeightUse: Sendable, Hashable {
    /// `[out, in]`, used as y = x · Wᵀ.
    case linear
    /// `[outChannels, inChannels / groups, kernel]`.
    case conv1d(Conv1DParams)
    /// `[inChannels, outChannels / groups, kernel]`.
    case convTranspose1d(ConvTranspose1DParams)
    /// `[vocab, dim]`, rows looked up by id.
    case embedding
}

/// One operation with its shapes: what `Backend.supports(_:)` decides on.
///
/// Activation tensors are f32; `weight` names the element type a weight is stored in.
public enum Op: Sendable, Hashable, CustomStringConvertible {
    /// y[m, n] = x[m, k] · W[n, k]ᵀ (+ bias[n]).
    case linear(m: Int, k: Int, n: Int, weight: DType)
    /// c[b][m, n] = alpha · a[b][m, k] · b[b][k, n] (or b[b][n, k]ᵀ) on activations.
    case matmul(batch: Int, m: Int, k: Int, n: Int, transposeB: Bool)
    /// y[cout, tout] = conv(x[cin, t], W[cout, cin/g, kernel]) (+ bias).
    case conv1d(inChannels: Int, outChannels: Int, kernel: Int, length: Int, params: Conv1DParams, weight: DType)
    /// y[cout, tout] = convT(x[cin, t], W[cin, cout/g, kernel]) (+ bias).
    case convTranspose1d(
        inChannels: Int, outChannels: Int, kernel: Int, length: Int, params: ConvTranspose1DParams, weight: DType)
    /// Normalise over the middle axis of x viewed as [outer, n, inner], then scale and shift.
    case layerNorm(outer: Int, n: Int, inner: Int)
    /// x / rms(x) · gamma over the last axis of [rows, n].
    case rmsNorm(rows: Int, n: Int)
    /// Softmax over the last axis of [rows, n], optionally causally masked.
    case softmax(rows: Int, n: Int)
    case activation(Activation, count: Int)
    /// a op= b, with b broadcast to a's shape.
    case binary(BinaryOp, count: Int)
    /// Gather rows of a [vocab, dim] table.
    case embedding(vocab: Int, dim: Int, count: Int, table: DType)
    /// Rotary embeddings on [tokens, heads, headDim].
    case rope(tokens: Int, heads: Int, headDim: Int, mode: RoPEMode)
    /// [rows, cols] → [cols, rows].
    case transpose(rows: Int, cols: Int)
    /// softmax(scale · q · kᵀ) · v per head, the scores never stored whole: `heads` query heads of `rows` rows
    /// over `kvHeads` key/value heads of `keys` rows, `headDim` wide.
    case attention(heads: Int, kvHeads: Int, rows: Int, keys: Int, headDim: Int, causal: Bool)

    /// The op's name without shapes (for logs and parity reports).
    public var name: String {
        switch self {
        case .linear: "linear"
        case .matmul: "matmul"
        case .conv1d: "conv1d"
        case .convTranspose1d: "conv_transpose1d"
        case .layerNorm: "layer_norm"
        case .rmsNorm: "rms_norm"
        case .softmax: "softmax"
        case .activation(let a, _): a.description
        case .binary(let b, _): b.rawValue
        case .embedding: "embedding"
        case .rope: "rope"
        case .transpose: "transpose"
        case .attention: "attention"
        }
    }

    public var description: String {
        switch self {
        case .linear(let m, let k, let n, let w): "linear m=\(m) k=\(k) n=\(n) \(w)"
        case .matmul(let b, let m, let k, let n, let t): "matmul b=\(b) m=\(m) k=\(k) n=\(n)\(t ? " Bᵀ" : "")"
        case .conv1d(let ci, let co, let k, let l, let p, let w):
            "conv1d \(ci)→\(co) k=\(k) L=\(l) s=\(p.stride) d=\(p.dilation) p=\(p.padLeft),\(p.padRight) g=\(p.groups) \(w)"
        case .convTranspose1d(let ci, let co, let k, let l, let p, let w):
            "conv_transpose1d \(ci)→\(co) k=\(k) L=\(l) s=\(p.stride) p=\(p.padding) op=\(p.outputPadding) g=\(p.groups) \(w)"
        case .layerNorm(let o, let n, let i): "layer_norm [\(o), \(n), \(i)]"
        case .rmsNorm(let r, let n): "rms_norm [\(r), \(n)]"
        case .softmax(let r, let n): "softmax [\(r), \(n)]"
        case .activation(let a, let c): "\(a) ×\(c)"
        case .binary(let b, let c): "\(b.rawValue) ×\(c)"
        case .embedding(let v, let d, let c, let t): "embedding [\(v), \(d)] ×\(c) \(t)"
        case .rope(let t, let h, let d, let m): "rope [\(t), \(h), \(d)] \(m.rawValue)"
        case .transpose(let r, let c): "transpose [\(r), \(c)]"
        case .attention(let h, let kvh, let r, let k, let d, let causal):
            "attention heads=\(h)/\(kvh) rows=\(r) keys=\(k) d=\(d)\(causal ? " causal" : "")"
        }
    }
}

/// A batched matrix inside a flat f32 tensor: `batch` matrices of `rows × cols`, row-major, whose rows
/// are `rowStride` elements apart and whose matrices are `batchStride` apart, starting at `offset`.
///
/// Lets attention address one head of a `[tokens, heads · headDim]` tensor without copying it:
/// head h is `MatrixView(offset: h · headDim, batch: 1, rows: tokens, cols: headDim, rowStride: heads · headDim)`,
/// and all heads at once are `batch: heads, batchStride: headDim`.
public struct MatrixView: Sendable, Hashable {
    public var offset: Int
    public var batch: Int
    public var rows: Int
    public var cols: Int
    public var rowStride: Int
    public var batchStride: Int

    public init(offset: Int = 0, batch: Int = 1, rows: Int, cols: Int, rowStride: Int? = nil, batchStride: Int? = nil) {
        self.offset = offset
        self.batch = batch
        self.rows = rows
        self.cols = cols
        self.rowStride = rowStride ?? cols
        self.batchStride = batchStride ?? (rows * (rowStride ?? cols))
    }

    /// A dense view of a whole `[rows, cols]` or `[batch, rows, cols]` tensor.
    public init(dense tensor: Tensor) {
        let s = tensor.shape
        precondition(s.count == 2 || s.count == 3, "a dense matrix view needs a rank-2 or rank-3 tensor")
        let batch = s.count == 3 ? s[0] : 1
        self.init(batch: batch, rows: s[s.count - 2], cols: s[s.count - 1])
    }

    /// One past the largest element index the view touches.
    public var extent: Int {
        guard batch > 0, rows > 0, cols > 0 else { return offset }
        return offset + (batch - 1) * batchStride + (rows - 1) * rowStride + cols
    }
}
