// Building blocks the Piper stages share: a conv prepared once for its engine with the graph's own attributes,
// and zero-copy row views of channels-first activations.
//
// Shapes: activations are channels-first [C, T] (C channels, T steps), as the convs take them.

import Compute
import Tensors

/// A convolution prepared for an engine at load: the weight in the backend's form, the bias, and the stride,
/// dilation, padding and groups its graph node applies.
struct PreparedConv: Sendable {
    let weight: PreparedWeight  // [out, in / groups, kernel]
    let bias: Tensor?  // [out]
    let params: Conv1DParams

    /// Prepares `conv`; `padding` overrides the node's own pads (the text encoder's FFN pads in a separate node).
    init(_ conv: GraphConv, engine: ComputeEngine, padding: (Int, Int)? = nil) throws(PiperError) {
        let pads = padding ?? conv.pads
        let params = Conv1DParams(
            stride: conv.stride, dilation: conv.dilation, padLeft: pads.0, padRight: pads.1, groups: conv.group)
        self.params = params
        weight = try computing { () throws(ComputeError) in try engine.prepare(conv.weight, for: .conv1d(params)) }
        bias = conv.bias?.toF32()
    }

    var outChannels: Int { weight.shape[0] }

    /// y [out, T'] = conv(x [in, T]) + bias.
    func callAsFunction(_ x: Tensor, _ engine: ComputeEngine) throws(ComputeError) -> Tensor {
        try engine.conv1d(x, weight, bias: bias, params: params)
    }

    /// y = conv(lrelu(x)) + bias (+ residual), the leaky ReLU with `slope`: one op (`ComputeEngine.conv1d`).
    func callAsFunction(leaky slope: Float, _ x: Tensor, adding residual: Tensor? = nil, _ engine: ComputeEngine)
        throws(ComputeError) -> Tensor
    {
        try engine.conv1d(x, weight, bias: bias, params: params, inputSlope: slope, residual: residual)
    }
}

/// A 1×1 convolution used as a linear layer on [T, C] rows: the weight `[out, in, 1]` prepared as `[out, in]`.
struct PreparedLinear: Sendable {
    let weight: PreparedWeight  // [out, in]
    let bias: Tensor?  // [out]

    init(_ convs: [GraphConv], engine: ComputeEngine) throws(PiperError) {
        // Several 1×1 convs of the same input fuse into one product (attention's q, k, v).
        let inputs = convs[0].inChannels
        let outs = convs.map(\.outChannels)
        var w = [Float]()
        var b = [Float]()
        for conv in convs {
            w += conv.weight.toF32().floats()
            b += conv.bias?.toF32().floats() ?? [Float](repeating: 0, count: conv.outChannels)
        }
        let total = outs.reduce(0, +)
        let fused = Tensor(shape: [total, inputs], floats: w)
        weight = try computing { () throws(ComputeError) in try engine.prepare(fused, for: .linear) }
        bias = Tensor(shape: [total], floats: b)
    }

    func callAsFunction(_ x: Tensor, _ engine: ComputeEngine) throws(ComputeError) -> Tensor {
        try engine.linear(x, weight, bias: bias)
    }
}

/// A conv's weights prepared for `engine`, looked up by module name.
func prepareConv(
    _ weights: PiperGraphWeights, _ module: String, _ engine: ComputeEngine, padding: (Int, Int)? = nil
) throws(PiperError) -> PreparedConv {
    try PreparedConv(try weights.conv(module), engine: engine, padding: padding)
}

extension Tensor {
    /// Rows `range` of a [R, C] f32 tensor as a [range.count, C] tensor sharing this one's storage (no copy).
    func rows(_ range: Range<Int>) -> Tensor {
        let columns = shape[1]
        return Tensor(
            shape: [range.count, columns], dtype: .f32, storage: storage,
            byteOffset: byteOffset + range.lowerBound * columns * 4)
    }

    /// Columns `range` of a [R, C] f32 tensor, copied into a [R, range.count] tensor.
    func columns(_ range: Range<Int>) -> Tensor {
        let (rowCount, columns) = (shape[0], shape[1])
        var out = Tensor(zeros: [rowCount, range.count])
        withUnsafeFloats { src in
            out.withUnsafeMutableFloats { dst in
                for r in 0..<rowCount {
                    (dst.baseAddress! + r * range.count).update(
                        from: src.baseAddress! + r * columns + range.lowerBound, count: range.count)
                }
            }
        }
        return out
    }

    /// Writes columns `at..<at + range.count` of `source` [R, C'] into columns `range` of this [R, C] f32 tensor.
    mutating func setColumns(_ range: Range<Int>, from source: Tensor, at: Int) {
        let (rowCount, columns, sourceColumns) = (shape[0], shape[1], source.shape[1])
        source.withUnsafeFloats { src in
            withUnsafeMutableFloats { dst in
                for r in 0..<rowCount {
                    (dst.baseAddress! + r * columns + range.lowerBound).update(
                        from: src.baseAddress! + r * sourceColumns + at, count: range.count)
                }
            }
        }
    }

    /// The rows of a [R, C] f32 tensor in reverse order (VITS's `Flip`: `torch.flip(x, [1])` on [b, C, T]).
    func flippedRows() -> Tensor {
        let (rowCount, columns) = (shape[0], shape[1])
        var out = Tensor(zeros: shape)
        withUnsafeFloats { src in
            out.withUnsafeMutableFloats { dst in
                for r in 0..<rowCount {
                    (dst.baseAddress! + (rowCount - 1 - r) * columns).update(
                        from: src.baseAddress! + r * columns, count: columns)
                }
            }
        }
        return out
    }

    /// [A, C] and [B, C] f32 tensors stacked into [A + B, C].
    static func stacking(_ top: Tensor, _ bottom: Tensor) -> Tensor {
        var out = Tensor(zeros: [top.shape[0] + bottom.shape[0], top.shape[1]])
        out.withUnsafeMutableFloats { dst in
            top.withUnsafeFloats { dst.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
            bottom.withUnsafeFloats { (dst.baseAddress! + top.count).update(from: $0.baseAddress!, count: $0.count) }
        }
        return out
    }
}
