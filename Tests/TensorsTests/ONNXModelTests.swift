import Testing

@testable import Tensors

/// A tiny ONNX model built field by field, using every encoding the reader supports: packed and
/// unpacked repeated fields, raw and typed tensor data, Constant nodes of each kind, subgraphs, and
/// fields it must skip.
enum TinyONNX {
    /// TensorProto { dims = 1; data_type = 2; name = 8; … }, with `data` writing the payload fields.
    static func tensor(
        _ w: inout ProtobufWriter, name: String, dims: [Int64], packedDims: Bool = false, type: Int64,
        data: (inout ProtobufWriter) -> Void
    ) {
        if packedDims { w.packedVarints(1, dims) } else { for d in dims { w.varint(1, d) } }
        w.varint(2, type)
        if !name.isEmpty { w.string(8, name) }
        data(&w)
    }

    static func graph(_ g: inout ProtobufWriter) {
        g.string(2, "tiny")
        // Constants: a tensor, floats, ints, a float and an int (the last without its `type` field).
        g.message(1) { n in
            n.string(2, "c_tensor")
            n.string(3, "const0")
            n.string(4, "Constant")
            n.message(5) { a in
                a.string(1, "value")
                a.varint(20, 4)
                a.message(5) { t in tensor(&t, name: "", dims: [2], type: 1) { $0.bytes(9, floatBytes([1.5, -2])) } }
            }
        }
        g.message(1) { n in
            n.string(2, "c_floats")
            n.string(4, "Constant")
            n.message(5) { a in
                a.string(1, "value_floats")
                a.varint(20, 6)
                a.packedFloats(7, [1, 2, 3])
            }
        }
        g.message(1) { n in
            n.string(2, "c_ints")
            n.string(4, "Constant")
            n.message(5) { a in
                a.string(1, "value_ints")
                a.varint(20, 7)
                a.varint(8, -1)
                a.varint(8, 5)
            }
        }
        g.message(1) { n in
            n.string(2, "c_float")
            n.string(4, "Constant")
            n.message(5) { a in
                a.string(1, "value_float")
                a.varint(20, 1)
                a.float(2, 0.25)
            }
        }
        g.message(1) { n in
            n.string(2, "c_int")
            n.string(4, "Constant")
            n.string(7, "ai.onnx")
            n.message(5) { a in
                a.string(1, "value_int")
                a.varint(3, -3)
            }
        }
        // A Conv with packed and unpacked ints, an int and a string without `type`, a doc string.
        g.message(1) { n in
            n.string(1, "x")
            n.string(1, "w")
            n.string(1, "")
            n.string(2, "y")
            n.string(3, "conv")
            n.string(4, "Conv")
            n.string(6, "ignored doc")
            n.message(5) { a in
                a.string(1, "strides")
                a.varint(20, 7)
                a.packedVarints(8, [2])
            }
            n.message(5) { a in
                a.string(1, "pads")
                a.varint(20, 7)
                a.varint(8, 1)
                a.varint(8, 1)
            }
            n.message(5) { a in
                a.string(1, "group")
                a.varint(3, 1)
            }
            n.message(5) { a in
                a.string(1, "auto_pad")
                a.bytes(4, Array("NOTSET".utf8))
            }
        }
        // An If whose branches hold a Constant, an initializer and a nested If.
        g.message(1) { n in
            n.string(1, "cond")
            n.string(2, "z")
            n.string(3, "if")
            n.string(4, "If")
            n.message(5) { a in
                a.string(1, "then_branch")
                a.varint(20, 5)
                a.message(6) { sub in
                    sub.string(2, "then")
                    sub.message(1) { c in
                        c.string(2, "sub_const")
                        c.string(4, "Constant")
                        c.message(5) { a in
                            a.string(1, "value")
                            a.varint(20, 4)
                            a.message(5) { t in
                                tensor(&t, name: "", dims: [3], type: 7) { $0.packedVarints(7, [7, 8, 9]) }
                            }
                        }
                    }
                    sub.message(5) { t in
                        tensor(&t, name: "sub_init", dims: [2], type: 1) {
                            $0.float(4, 4)
                            $0.float(4, 5)
                        }
                    }
                    sub.message(12) { o in o.string(1, "sub_const") }
                }
            }
            n.message(5) { a in
                a.string(1, "else_branch")
                a.varint(20, 5)
                a.message(6) { sub in
                    sub.string(2, "else")
                    sub.message(1) { inner in
                        inner.string(4, "If")
                        inner.message(5) { a in
                            a.string(1, "then_branch")
                            a.message(6) { deep in
                                deep.message(5) { t in
                                    tensor(&t, name: "deep_init", dims: [], type: 6) { $0.varint(5, 42) }
                                }
                            }
                        }
                    }
                }
            }
        }
        // A custom-domain op with strings, unpacked floats, tensors and an attribute type we do not read.
        g.message(1) { n in
            n.string(2, "m")
            n.string(4, "MyOp")
            n.string(7, "com.example")
            n.message(5) { a in
                a.string(1, "names")
                a.varint(20, 8)
                a.bytes(9, Array("a".utf8))
                a.bytes(9, [0x62])
            }
            n.message(5) { a in
                a.string(1, "weights")
                a.varint(20, 6)
                a.float(7, 0.5)
            }
            n.message(5) { a in
                a.string(1, "ts")
                a.varint(20, 9)
                a.message(10) { t in tensor(&t, name: "t0", dims: [1], type: 3) { $0.varint(5, -4) } }
            }
            n.message(5) { a in
                a.string(1, "sparse")
                a.varint(20, 11)
                a.message(22) { _ in }
            }
        }
        // Initializers: raw data, and every typed field, packed and not.
        g.message(5) { t in
            tensor(&t, name: "w", dims: [2, 3], type: 1) { $0.bytes(9, floatBytes([1, 2, 3, 4, 5, 6])) }
        }
        g.message(5) { t in
            tensor(&t, name: "h", dims: [2], packedDims: true, type: 10) {
                $0.varint(5, 0x3C00)
                $0.varint(5, 0x4000)
            }
        }
        g.message(5) { t in tensor(&t, name: "i64", dims: [3], type: 7) { $0.packedVarints(7, [1, -2, 3]) } }
        g.message(5) { t in
            tensor(&t, name: "d", dims: [2], type: 11) { w in
                w.bytes(10, [0.5, 1.5].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
            }
        }
        g.message(5) { t in tensor(&t, name: "b", dims: [3], type: 9) { $0.packedVarints(5, [1, 0, 1]) } }
        g.message(5) { t in tensor(&t, name: "u8", dims: [3], type: 2) { $0.bytes(9, [7, 8, 255]) } }
        g.message(5) { t in
            tensor(&t, name: "i8", dims: [2], type: 3) {
                $0.varint(5, -1)
                $0.varint(5, 2)
            }
        }
        g.message(5) { t in tensor(&t, name: "bf", dims: [1], type: 16) { $0.varint(5, 0x3F80) } }
        g.message(5) { t in tensor(&t, name: "scalar", dims: [], type: 1) { $0.packedFloats(4, [3]) } }
        g.message(5) { t in tensor(&t, name: "empty", dims: [0, 4], type: 1) { _ in } }
        g.message(5) { t in tensor(&t, name: "i16", dims: [1], type: 5) { $0.bytes(9, [0x00, 0x80]) } }
        // Inputs and outputs.
        g.message(11) { v in
            v.string(1, "x")
            v.message(2) { type in
                type.message(1) { tt in
                    tt.varint(1, 1)
                    tt.message(2) { shape in
                        shape.message(1) { d in d.string(2, "N") }
                        shape.message(1) { d in d.varint(1, 3) }
                        shape.message(1) { _ in }
                    }
                }
            }
        }
        g.message(11) { v in
            v.string(1, "cond")
            v.message(2) {
                $0.message(1) {
                    $0.varint(1, 9)
                    $0.message(2) { _ in }
                }
            }
        }
        g.message(12) { v in
            v.string(1, "y")
            v.message(2) { $0.message(1) { $0.varint(1, 1) } }
        }
        g.message(12) { v in
            v.string(1, "z")
            v.message(2) { $0.message(4) { _ in } }
        }
        // Fields the reader skips: value_info, doc_string, and unknown numbers of every wire type.
        g.message(13) { v in v.string(1, "ignored") }
        g.string(10, "a graph")
        g.fixed64(99, 1)
        g.fixed32(98, 1)
        g.varint(97, 1)
    }

    /// The whole model: header fields, the graph, two operator sets and metadata_props (which the reader
    /// skips).
    static func model(graph build: (inout ProtobufWriter) -> Void = graph, opset: Bool = true) -> ProtobufWriter {
        var m = ProtobufWriter()
        m.varint(1, 8)
        m.string(2, "hark-tests")
        m.string(3, "1.0")
        m.varint(5, 3)
        m.string(6, "a doc string")
        m.message(7, build)
        if opset {
            m.message(8) {
                $0.string(1, "")
                $0.varint(2, 17)
            }
        }
        optionalTail(&m, opset: opset)
        return m
    }

    /// The fields after the last one a model needs (its first operator set).
    static func optionalTail(_ m: inout ProtobufWriter, opset: Bool = true) {
        if opset {
            m.message(8) {
                $0.string(1, "com.example")
                $0.varint(2, 1)
            }
        }
        m.message(14) {
            $0.string(1, "key")
            $0.string(2, "value")
        }
    }

    /// Where the first operator set ends in `model()`. A protobuf message has no overall length, so a
    /// cut from here on can leave a valid, shorter model.
    static var requiredEnd: Int {
        var tail = ProtobufWriter()
        optionalTail(&tail)
        return model().offset - tail.offset
    }

    static func file(_ name: String = "tiny.onnx") -> MappedFile { model().file(name) }

    /// The error parsing a model whose graph holds what `build` writes.
    static func error(graph build: (inout ProtobufWriter) -> Void) -> ModelFileError? {
        modelFileError(model(graph: build).file("bad.onnx"), ONNXModel.init(file:))
    }

    /// Where `needle` first occurs in the model whose graph holds what `build` writes.
    static func offset(of needle: [UInt8], graph build: (inout ProtobufWriter) -> Void) -> Int? {
        let bytes = model(graph: build).bytes
        return (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }
    }
}

@Suite("ONNX reader")
struct ONNXModelTests {
    @Test("model header and operator sets")
    func header() throws {
        let model = try ONNXModel(file: TinyONNX.file())
        #expect(model.irVersion == 8)
        #expect(model.producerName == "hark-tests" && model.producerVersion == "1.0")
        #expect(model.modelVersion == 3 && model.domain == "")
        #expect(model.opsetImports == [.init(domain: "", version: 17), .init(domain: "com.example", version: 1)])
        #expect(model.opsetVersion == 17)
        #expect(model.graph.name == "tiny")
    }

    @Test("nodes: names, op types, domains, inputs (with an omitted one), outputs, attributes")
    func nodes() throws {
        let graph = try ONNXModel(file: TinyONNX.file()).graph
        #expect(
            graph.nodes.map(\.opType) == [
                "Constant", "Constant", "Constant", "Constant", "Constant", "Conv", "If", "MyOp",
            ])
        let conv = graph.nodes[5]
        #expect(conv.name == "conv" && conv.inputs == ["x", "w", ""] && conv.outputs == ["y"])
        #expect(conv.attribute("strides")?.ints == [2])
        #expect(conv.attribute("pads")?.ints == [1, 1])
        #expect(conv.attribute("group")?.int == 1)
        #expect(conv.attribute("auto_pad")?.string == "NOTSET")
        #expect(conv.attribute("dilations") == nil)
        let custom = graph.nodes[7]
        #expect(custom.domain == "com.example")
        if case .strings(let s)? = custom.attribute("names") {
            #expect(s == ["a", "b"])
        } else {
            Issue.record("names")
        }
        #expect(custom.attribute("weights")?.floats == [0.5])
        if case .tensors(let ts)? = custom.attribute("ts") {
            #expect(ts.map(\.name) == ["t0"] && ts.first?.tensor.integers() == [-4])
        } else {
            Issue.record("ts")
        }
        if case .unsupported(let type)? = custom.attribute("sparse") {
            #expect(type == 11)
        } else {
            Issue.record("sparse")
        }
    }

    @Test("Constant nodes of every kind become named tensors")
    func constants() throws {
        let model = try ONNXModel(file: TinyONNX.file())
        let constants = model.graph.constants
        #expect(constants.map(\.name) == ["c_tensor", "c_floats", "c_ints", "c_float", "c_int"])
        #expect(model.tensor(named: "c_tensor")?.floats() == [1.5, -2])
        #expect(model.tensor(named: "c_tensor")?.shape == [2])
        #expect(model.tensor(named: "c_floats")?.floats() == [1, 2, 3])
        #expect(model.tensor(named: "c_ints")?.integers() == [-1, 5])
        #expect(model.tensor(named: "c_ints")?.dtype == .i64)
        #expect(model.tensor(named: "c_float")?.shape == [] && model.tensor(named: "c_float")?.floats() == [0.25])
        #expect(model.tensor(named: "c_int")?.integers() == [-3])
        #expect(constants[0].fileOffset != nil)  // raw_data: a view of the file
        #expect(constants[1].fileOffset == nil)  // built from the attribute
    }

    @Test("initializers: raw data and every typed field, packed or not")
    func initializers() throws {
        let model = try ONNXModel(file: TinyONNX.file())
        let byName = Dictionary(uniqueKeysWithValues: model.graph.initializers.map { ($0.name, $0) })
        #expect(model.graph.initializers.count == 11)
        let w = try #require(byName["w"])
        #expect(w.shape == [2, 3] && w.dtype == .f32 && w.dataType == .float)
        #expect(w.tensor.floats() == [1, 2, 3, 4, 5, 6])
        #expect(w.fileOffset.map { $0 + w.byteCount <= model.file.bytes.count } == true)
        #expect(byName["h"]?.dtype == .f16 && byName["h"]?.tensor.floats() == [1, 2])
        #expect(byName["i64"]?.tensor.integers() == [1, -2, 3])
        #expect(byName["d"]?.dtype == .f64 && byName["d"]?.tensor.floats() == [0.5, 1.5])
        #expect(byName["b"]?.dataType == .bool && byName["b"]?.dtype == .u8)
        #expect(byName["b"]?.tensor.integers() == [1, 0, 1])
        #expect(byName["u8"]?.tensor.integers() == [7, 8, 255])
        #expect(byName["i8"]?.tensor.integers() == [-1, 2])
        #expect(byName["bf"]?.dtype == .bf16 && byName["bf"]?.tensor.floats() == [1])
        #expect(byName["scalar"]?.shape == [] && byName["scalar"]?.tensor.floats() == [3])
        #expect(byName["empty"]?.shape == [0, 4] && byName["empty"]?.byteCount == 0)
        #expect(byName["i16"]?.tensor.integers() == [-32768])
    }

    @Test("subgraphs are parsed and their tensors reachable by name")
    func subgraphs() throws {
        let model = try ONNXModel(file: TinyONNX.file())
        let ifNode = model.graph.nodes[6]
        let then = try #require(ifNode.attribute("then_branch")?.graph)
        #expect(then.name == "then" && then.outputs.map(\.name) == ["sub_const"])
        #expect(model.graph.subgraphs.map(\.name) == ["then", "else"])
        #expect(model.tensor(named: "sub_const")?.integers() == [7, 8, 9])
        #expect(model.tensor(named: "sub_init")?.floats() == [4, 5])
        #expect(model.tensor(named: "deep_init")?.integers() == [42])
        #expect(model.graph.allTensors.count == 11 + 5 + 1 + 1 + 1)
        #expect(model.tensor(named: "nothing") == nil)
    }

    @Test("graph inputs and outputs: element types and dimensions when stated")
    func valueInfos() throws {
        let graph = try ONNXModel(file: TinyONNX.file()).graph
        #expect(graph.inputs.map(\.name) == ["x", "cond"])
        #expect(graph.inputs[0].elementType == .float)
        #expect(graph.inputs[0].dimensions == [.parameter("N"), .value(3), .unknown])
        #expect(graph.inputs[1].elementType == .bool && graph.inputs[1].dimensions == [])
        #expect(graph.outputs[0].elementType == .float && graph.outputs[0].dimensions == nil)
        #expect(graph.outputs[1].elementType == nil && graph.outputs[1].dimensions == nil)
    }

    @Test("external data and element types without a DType are unsupported")
    func unsupported() {
        let external: (inout ProtobufWriter) -> Void = { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "ext", dims: [1], type: 1) { $0.varint(14, 1) } }
        }
        var e = TinyONNX.error(graph: external)
        #expect(e?.kind == .unsupported && e?.message.contains("external") == true)
        // The offset is where the TensorProto starts: its first field, dims = [1].
        #expect(e?.offset == TinyONNX.offset(of: [0x08, 0x01, 0x10, 0x01, 0x42, 0x03], graph: external))
        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "ext", dims: [1], type: 1) { $0.message(13) { _ in } } }
        }
        #expect(e?.kind == .unsupported)
        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "text", dims: [1], type: 8) { $0.bytes(6, [0x61]) } }
        }
        #expect(e?.kind == .unsupported && e?.message.contains("text") == true)
    }

    @Test("tensor data that does not match its shape is an invalid field at its offset")
    func dataMismatch() {
        let short: (inout ProtobufWriter) -> Void = { g in
            g.message(5) { t in
                TinyONNX.tensor(&t, name: "w", dims: [2, 3], type: 1) { $0.bytes(9, floatBytes([1, 2, 3])) }
            }
        }
        var e = TinyONNX.error(graph: short)
        #expect(e?.kind == .invalidField && e?.message.contains("raw_data") == true)
        #expect(e?.offset == TinyONNX.offset(of: [0x4A, 12], graph: short))  // field 9, 12 bytes

        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "v", dims: [3], type: 7) { $0.packedVarints(7, [1, 2]) } }
        }
        #expect(e?.kind == .invalidField && e?.message.contains("2 values") == true)
        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "neg", dims: [-1], type: 1) { _ in } }
        }
        #expect(e?.kind == .invalidField)
        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "big", dims: [1 << 40, 1 << 40], type: 1) { _ in } }
        }
        #expect(e?.kind == .invalidField)
        e = TinyONNX.error { g in
            g.message(5) { t in TinyONNX.tensor(&t, name: "f", dims: [1], type: 1) { $0.bytes(4, [1, 2, 3]) } }
        }
        #expect(e?.kind == .invalidField)
    }

    @Test("wire-format errors: group wire types, field 0, overlong varints, wrong wire type")
    func wireErrors() {
        let group = modelFileError(MappedFile(bytes: [0x08, 0x08, 0x0B], path: "g.onnx"), ONNXModel.init(file:))
        #expect(group?.kind == .invalidField && group?.offset == 2)
        let zero = modelFileError(MappedFile(bytes: [0x00, 0x01], path: "z.onnx"), ONNXModel.init(file:))
        #expect(zero?.kind == .invalidField && zero?.offset == 0)
        let long = modelFileError(
            MappedFile(bytes: [0x08] + Array(repeating: 0xFF, count: 9) + [0x02], path: "v.onnx"),
            ONNXModel.init(file:))
        #expect(long?.kind == .invalidField && long?.offset == 1)
        let runaway = modelFileError(MappedFile(bytes: [0x08, 0xFF, 0xFF], path: "r.onnx"), ONNXModel.init(file:))
        #expect(runaway?.kind == .truncated && runaway?.offset == 1)
        let e = TinyONNX.error { g in g.varint(2, 5) }  // the graph's name as a varint
        #expect(e?.kind == .invalidField && e?.message.contains("wire type") == true)
    }

    @Test("a lying length is truncated at the length's offset")
    func lyingLength() {
        // ir_version, then field 7 (graph) claiming 2^40 bytes.
        let bytes: [UInt8] = [0x08, 0x08, 0x3A] + ProtobufWriter.varintBytes(1 << 40) + [0x00]
        let e = modelFileError(MappedFile(bytes: bytes, path: "lying.onnx"), ONNXModel.init(file:))
        #expect(e?.kind == .truncated && e?.offset == 3 && e?.file == "lying.onnx")
    }

    @Test("an empty file or one without a graph is not an ONNX model; a model without opsets is invalid")
    func missingParts() {
        let empty = modelFileError(MappedFile(bytes: [], path: "e.onnx"), ONNXModel.init(file:))
        #expect(empty?.kind == .notThisFormat)
        let noGraph = modelFileError(MappedFile(bytes: [0x08, 0x08], path: "n.onnx"), ONNXModel.init(file:))
        #expect(noGraph?.kind == .notThisFormat)
        let noOpset = modelFileError(TinyONNX.model(opset: false).file("o.onnx"), ONNXModel.init(file:))
        #expect(noOpset?.kind == .invalidField)
    }

    @Test("subgraphs nested too deep are unsupported, not a stack overflow")
    func deepSubgraphs() {
        func nest(_ g: inout ProtobufWriter, _ depth: Int) {
            guard depth > 0 else { return }
            g.message(1) { n in
                n.string(4, "If")
                n.message(5) { a in
                    a.string(1, "then_branch")
                    a.varint(20, 5)
                    a.message(6) { nest(&$0, depth - 1) }
                }
            }
        }
        #expect(TinyONNX.error { nest(&$0, 16) } == nil)
        #expect(TinyONNX.error { nest(&$0, 17) }?.kind == .unsupported)
        #expect(TinyONNX.error { nest(&$0, 300) }?.kind == .unsupported)
    }

    /// A protobuf message has no overall length, so a cut between two top-level fields cannot be seen;
    /// it is caught only when it drops the graph or the operator sets. Real models (PyTorch's export)
    /// end with their operator sets, so every cut of those throws (see ModelFileTests).
    @Test("every truncation before the last required field throws, at or before the cut")
    func everyTruncation() {
        let file = TinyONNX.file()
        let optionalTail = TinyONNX.requiredEnd
        for cut in 0..<file.bytes.count {
            let e = modelFileError(file.prefix(cut), ONNXModel.init(file:))
            if cut < optionalTail { #expect(e != nil, "cut at \(cut) parsed") }
            #expect((e?.offset ?? 0) <= cut, "cut at \(cut): \(e?.description ?? "")")
        }
    }

    @Test("every single-bit flip throws or yields tensors inside the file")
    func everyBitFlip() {
        let bytes = TinyONNX.model().bytes
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let file = MappedFile(bytes: flipped, path: "flipped.onnx")
            guard let model = try? ONNXModel(file: file) else { continue }
            for t in model.graph.allTensors {
                if let offset = t.fileOffset { #expect(offset + t.byteCount <= file.bytes.count) }
                #expect(t.tensor.byteCount == t.byteCount)
            }
        }
    }
}
