// Maps the weights of an exported Piper voice back to VITS's PyTorch module names by walking the graph, as
// research/piper.md §1.4 describes (the "robust mapping recipe"): export renames some weights (`onnx::Conv_NNNN`
// for the flow's weight-normed WN convs, `sid` for the phoneme embedding of single-speaker voices, `onnx::Exp_NNNN`
// or a folded `…/Exp_output_0` for the duration predictor's ElementwiseAffine scale), onnx-simplifier moves some
// into `Constant` nodes, and node names differ between exporter versions. So:
//   - a Conv/ConvTranspose weight is named after its sibling bias (`flow.flows.6.enc.in_layers.0.bias` →
//     module `flow.flows.6.enc.in_layers.0`), else after its own name, else after the scoped node name;
//   - the phoneme embedding is the data input of the Gather that reads the graph's id input, the speaker
//     embedding that of the Gather that reads `sid`;
//   - `dp.flows.0`'s scale exp(−logs) is evaluated from the constants feeding the Mul after its `Sub m`;
//   - everything else (layer norms, relative-position tables, `dp.flows.0.m`) keeps its module name.
// Each conv keeps its node's attributes (strides, pads, dilations, group), so the model applies every conv
// exactly as the graph does.

import Foundation
import Tensors

/// One convolution as the graph applies it: its constant weight, its bias and its node's attributes.
struct GraphConv: Sendable {
    /// `[out, in / group, kernel]` for Conv, `[in, out / group, kernel]` for ConvTranspose, f32 or f16.
    let weight: Tensor
    /// `[out]`, or nil when the conv has none (HiFi-GAN's conv_post).
    let bias: Tensor?
    let isTranspose: Bool
    let stride: Int
    let dilation: Int
    /// Padding before and after the time axis.
    let pads: (Int, Int)
    let group: Int
    let nodeName: String

    var outChannels: Int { isTranspose ? weight.shape[1] * group : weight.shape[0] }
    var inChannels: Int { isTranspose ? weight.shape[0] : weight.shape[1] * group }
    var kernel: Int { weight.shape[2] }
}

/// The weights of a Piper ONNX voice under their VITS module names.
struct PiperGraphWeights: Sendable {
    let path: String
    /// Convolutions by module name (`enc_p.encoder.attn_layers.0.conv_q`, `dec.ups.1`, …).
    let convs: [String: GraphConv]
    /// Convolutions whose weight is computed inside the graph (not a constant), by module name.
    let computedConvs: Set<String>
    /// `[symbols, hidden]`, the text encoder's phoneme embedding.
    let embedding: Tensor
    /// `[speakers, gin]` for multi-speaker voices.
    let speakerEmbedding: Tensor?
    private let model: ONNXModel
    private let producers: [String: ONNXNode]
    private let consumers: [String: [ONNXNode]]

    init(model: ONNXModel, path: String) throws(PiperError) {
        self.model = model
        self.path = path
        let graph = model.graph
        var producers: [String: ONNXNode] = [:]
        var consumers: [String: [ONNXNode]] = [:]
        for node in graph.nodes {
            for output in node.outputs where !output.isEmpty { producers[output] = node }
            for input in node.inputs where !input.isEmpty { consumers[input, default: []].append(node) }
        }
        self.producers = producers
        self.consumers = consumers

        // The real inputs: those that are not also initializers (IR < 4 lists initializers as inputs too).
        let realInputs = graph.inputs.map(\.name).filter { model.tensor(named: $0) == nil }
        guard let idsInput = realInputs.first(where: { $0 == "input" }) ?? realInputs.first else {
            throw .notAVoice(path, "the graph has no input")
        }

        var convs: [String: GraphConv] = [:]
        var computed: Set<String> = []
        var embedding: Tensor?
        var speakerEmbedding: Tensor?
        for node in graph.nodes where node.domain.isEmpty || node.domain == "ai.onnx" {
            switch node.opType {
            case "Conv", "ConvTranspose":
                guard node.inputs.count >= 2,
                    let name = Self.moduleName(of: node, canonical: { Self.canonical($0, producers) })
                else { continue }
                guard let weight = Self.constant(node.inputs[1], model, producers), weight.rank == 3 else {
                    computed.insert(name)
                    continue
                }
                let bias =
                    node.inputs.count > 2 && !node.inputs[2].isEmpty
                    ? Self.constant(node.inputs[2], model, producers) : nil
                let pads = node.attribute("pads")?.ints ?? [0, 0]
                let conv = GraphConv(
                    weight: weight, bias: bias, isTranspose: node.opType == "ConvTranspose",
                    stride: node.attribute("strides")?.ints?.first ?? 1,
                    dilation: node.attribute("dilations")?.ints?.first ?? 1,
                    pads: (pads.first ?? 0, pads.count > 1 ? pads[1] : pads.first ?? 0),
                    group: node.attribute("group")?.int ?? 1, nodeName: node.name)
                if convs[name] == nil { convs[name] = conv }
            case "Gather":
                guard node.inputs.count == 2, let table = Self.constant(node.inputs[0], model, producers),
                    table.rank == 2, table.dtype.isFloatingPoint
                else { continue }
                if node.inputs[1] == idsInput, embedding == nil {
                    embedding = table
                } else if node.inputs[1] == "sid", speakerEmbedding == nil {
                    speakerEmbedding = table
                }
            default:
                continue
            }
        }
        guard let embedding = embedding ?? model.tensor(named: "enc_p.emb.weight"), embedding.rank == 2 else {
            throw .notAVoice(path, "no phoneme embedding (a Gather of a [symbols, hidden] table by the id input)")
        }
        self.embedding = embedding
        self.speakerEmbedding = speakerEmbedding ?? model.tensor(named: "emb_g.weight")
        self.convs = convs
        self.computedConvs = computed
    }

    // MARK: - Lookups

    /// Whether the graph has a conv of this module.
    func has(_ module: String) -> Bool { convs[module] != nil }

    /// The conv of `module`, or a typed error naming it.
    func conv(_ module: String) throws(PiperError) -> GraphConv {
        if let conv = convs[module] { return conv }
        if computedConvs.contains(module) {
            throw PiperError(
                .unsupportedVoice,
                "the weight of \(module) is computed inside the graph (weight norm not folded at export)", path: path)
        }
        throw .notAVoice(path, "no convolution \(module)")
    }

    /// A named parameter (layer norm gamma/beta, relative-position tables, `dp.flows.0.m`…), as f32.
    func tensor(_ name: String) -> Tensor? { model.tensor(named: name)?.toF32() }

    /// A named parameter that must be there with `count` elements.
    func tensor(_ name: String, count: Int) throws(PiperError) -> Tensor {
        guard let t = tensor(name) else { throw .notAVoice(path, "no weight \(name)") }
        guard t.count == count else { throw .notAVoice(path, "\(name) has shape \(t.shape), expected \(count) values") }
        return t
    }

    /// The duration predictor's ElementwiseAffine in reverse, `(x − m) · scale`: m and scale = exp(−logs), `[2]` each.
    func durationAffine() throws(PiperError) -> (m: [Float], scale: [Float]) {
        // m keeps its name in every export seen; find the Sub that uses it and the Mul after it.
        let subtraction = model.graph.nodes.first {
            $0.opType == "Sub" && $0.inputs.count == 2 && Self.canonical($0.inputs[1], producers) == "dp.flows.0.m"
        }
        guard
            let mTensor = tensor("dp.flows.0.m")
                ?? subtraction.flatMap({ Self.constant($0.inputs[1], model, producers) })
        else { throw .notAVoice(path, "no dp.flows.0.m") }
        let m = mTensor.toF32().floats()
        if let logs = tensor("dp.flows.0.logs") {
            return (m, logs.floats().map { Foundation.exp(-$0) })
        }
        guard let subtraction, let output = subtraction.outputs.first,
            let multiply = consumers[output]?.first(where: { $0.opType == "Mul" && $0.inputs.count == 2 })
        else { throw .notAVoice(path, "dp.flows.0: no Mul after the subtraction of m") }
        let other = multiply.inputs[0] == output ? multiply.inputs[1] : multiply.inputs[0]
        guard let scale = evaluate(other), scale.count == m.count else {
            throw .notAVoice(path, "dp.flows.0: the scale exp(−logs) is not a constant of \(m.count) values")
        }
        return (m, scale)
    }

    /// Folds a small constant expression (Identity, Neg, Exp over constants) to its values.
    private func evaluate(_ name: String, depth: Int = 0) -> [Float]? {
        if let t = model.tensor(named: name) { return t.toF32().floats() }
        guard depth < 8, let node = producers[name], let input = node.inputs.first else { return nil }
        switch node.opType {
        case "Identity": return evaluate(input, depth: depth + 1)
        case "Neg": return evaluate(input, depth: depth + 1)?.map { -$0 }
        case "Exp": return evaluate(input, depth: depth + 1)?.map { Foundation.exp($0) }
        default: return nil
        }
    }

    // MARK: - Graph walking

    /// The tensor named `name`, following Identity nodes back to an initializer or Constant.
    private static func constant(_ name: String, _ model: ONNXModel, _ producers: [String: ONNXNode]) -> Tensor? {
        var current = name
        for _ in 0..<8 {
            if let t = model.tensor(named: current) { return t }
            guard let node = producers[current], node.opType == "Identity", let input = node.inputs.first else {
                return nil
            }
            current = input
        }
        return nil
    }

    /// `name`, or the name of the tensor it is an Identity copy of.
    private static func canonical(_ name: String, _ producers: [String: ONNXNode]) -> String {
        var current = name
        for _ in 0..<8 {
            guard let node = producers[current], node.opType == "Identity", let input = node.inputs.first else {
                break
            }
            current = input
        }
        return current
    }

    /// The module a conv node belongs to: from its bias's name, its weight's name, or its scoped node name.
    private static func moduleName(of node: ONNXNode, canonical: (String) -> String) -> String? {
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            let bias = canonical(node.inputs[2])
            if bias.hasSuffix(".bias") { return String(bias.dropLast(5)) }
        }
        let weight = canonical(node.inputs[1])
        if weight.hasSuffix(".weight") { return String(weight.dropLast(7)) }
        // Scoped names of newer exporters: "/dec/conv_post/Conv" → "dec.conv_post".
        if node.name.hasPrefix("/") {
            let parts = node.name.split(separator: "/").dropLast()
            if !parts.isEmpty { return parts.joined(separator: ".") }
        }
        return nil
    }
}
