import Tensors
import Testing

/// The default Piper voice, en_US-joe-medium.onnx (63 MB, exported by PyTorch 2.0 and simplified):
/// facts checked against the `onnx` Python package.
@Suite("Piper voice (ONNX)")
struct PiperVoiceFileTests {
    let model: ONNXModel

    init() throws {
        model = try ONNXModel(path: try DefaultModels.path(DefaultModels.voice))
    }

    @Test("header: IR 8, opset 15, written by PyTorch 2.0.0")
    func header() {
        #expect(model.irVersion == 8)
        #expect(model.producerName == "pytorch")
        #expect(model.producerVersion == "2.0.0")
        #expect(model.opsetImports == [ONNXOperatorSet(domain: "", version: 15)])
        #expect(model.opsetVersion == 15)
        #expect(model.graph.name == "torch_jit")
    }

    @Test("graph: 2755 nodes, 401 initializers, no Constant nodes or subgraphs")
    func graphSize() {
        let graph = model.graph
        #expect(graph.nodes.count == 2755)
        #expect(graph.initializers.count == 401)
        #expect(graph.constants.isEmpty)
        #expect(graph.subgraphs.isEmpty)
        var ops: [String: Int] = [:]
        for node in graph.nodes { ops[node.opType, default: 0] += 1 }
        #expect(ops["Conv"] == 129)
        #expect(ops["ConvTranspose"] == 3)
        #expect(ops["MatMul"] == 26)
        #expect(ops["LeakyRelu"] == 16)
        #expect(ops["ConstantOfShape"] == 46)
        #expect(graph.nodes.allSatisfy { $0.domain.isEmpty })
        let types = Dictionary(grouping: graph.initializers, by: \.dataType).mapValues(\.count)
        #expect(types == [.float: 366, .int64: 34, .int32: 1])
        #expect(graph.initializers.filter { $0.name.hasPrefix("onnx::Conv_") }.count == 32)
        let elements = graph.initializers.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(elements == 15_650_556)
    }

    @Test("graph inputs and outputs with their types and symbolic dimensions")
    func inputsAndOutputs() {
        let inputs = model.graph.inputs
        #expect(inputs.map(\.name) == ["input", "input_lengths", "scales"])
        #expect(inputs.map(\.elementType) == [.int64, .int64, .float])
        #expect(inputs[0].dimensions == [.parameter("batch_size"), .parameter("phonemes")])
        #expect(inputs[2].dimensions == [.value(3)])
        let output = model.graph.outputs
        #expect(output.map(\.name) == ["output"])
        #expect(output.first?.elementType == .float)
        #expect(output.first?.dimensions?.count == 4)
        #expect(output.first?.dimensions?[2] == .value(1))
    }

    @Test("HiFi-GAN upsampling: three ConvTranspose nodes, their weights and attributes")
    func decoderUpsampling() throws {
        let ups = model.graph.nodes.filter { $0.opType == "ConvTranspose" }
        #expect(
            ups.map(\.name) == ["/dec/ups.0/ConvTranspose", "/dec/ups.1/ConvTranspose", "/dec/ups.2/ConvTranspose"])
        #expect(ups.map { $0.inputs[1] } == ["dec.ups.0.weight", "dec.ups.1.weight", "dec.ups.2.weight"])
        #expect(ups.map { $0.attribute("strides")?.ints } == [[8], [8], [4]])
        #expect(ups.map { $0.attribute("kernel_shape")?.ints } == [[16], [16], [8]])
        #expect(ups.map { $0.attribute("pads")?.ints } == [[4, 4], [4, 4], [2, 2]])
        #expect(ups.first?.attribute("group")?.int == 1)
        let shapes = ups.map { model.tensor(named: $0.inputs[1])?.shape }
        #expect(shapes == [[256, 128, 16], [128, 64, 16], [64, 32, 8]])
        #expect(model.tensor(named: "dec.ups.0.bias")?.shape == [128])
        #expect(model.tensor(named: "dec.conv_pre.weight")?.shape == [256, 192, 7])
        #expect(model.tensor(named: "dec.conv_post.weight")?.shape == [1, 32, 7])

        let weight = try #require(model.tensor(named: "dec.ups.0.weight"))
        #expect(weight.dtype == .f32)
        let values = weight.floats()
        let expected: [Float] = [0.00244185, -0.00087493, 0.00171697, 0.00105417]
        for (v, e) in zip(values.prefix(4), expected) { #expect(abs(v - e) < 1e-7) }
        let sum = values.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - 6.061730899364207) < 1e-5)
    }

    @Test("the phoneme embedding is the anonymous initializer `sid` [256, 192]")
    func embedding() {
        let sid = model.graph.onnxTensor(named: "sid")
        #expect(sid?.shape == [256, 192])
        #expect(sid?.dataType == .float)
        #expect(model.tensor(named: "enc_p.emb.weight") == nil)
    }

    @Test("attributes of every kind the voice uses: ints, int, string, float, tensor")
    func attributes() throws {
        let leaky = try #require(model.graph.nodes.first { $0.opType == "LeakyRelu" })
        #expect(leaky.attribute("alpha")?.float == 0.1)
        let pad = try #require(model.graph.nodes.first { $0.opType == "Pad" })
        #expect(pad.attribute("mode")?.string == "constant")
        let fill = try #require(model.graph.nodes.first { $0.name == "/dp/flows.7/ConstantOfShape_1" })
        let value = try #require(fill.attribute("value")?.tensor)
        #expect(value.shape == [1] && value.dataType == .float)
        #expect(abs(value.tensor.floats()[0] - 0.5397424) < 1e-6)
    }

    @Test("small integer initializers hold their values")
    func integerInitializers() {
        #expect(model.tensor(named: "/dp/flows.7/Constant_86_output_0")?.integers() == [-1])
        #expect(model.tensor(named: "/Constant_2_output_0")?.integers() == [2])
        #expect(model.tensor(named: "/enc_p/Constant_5_output_0")?.shape == [1])
    }

    @Test("every initializer reads from raw_data inside the file, zero copy when aligned")
    func initializersLieInTheFile() {
        let size = model.file.bytes.count
        for t in model.graph.allTensors {
            let offset = t.fileOffset ?? -1
            #expect(offset > 0 && offset + t.byteCount <= size, "\(t.name)")
        }
        let aligned = model.graph.initializers.filter { ($0.fileOffset ?? 1) % 4 == 0 && $0.dtype == .f32 }
        #expect(aligned.allSatisfy { $0.tensor.storage.isReadOnly })
    }
}
