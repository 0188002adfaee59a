// Decodes ONNX's protobuf messages (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) from a mapped
// file into the types of ONNXModel.swift. Field numbers are the schema's; unknown fields are skipped by
// wire type. `raw_data` is never copied: tensors point at it in the file.

/// The ONNX decoder: one static function per message type.
enum ONNXParser {
    /// How deep If/Loop/Scan bodies may nest (deeper nesting in a crafted file would exhaust the stack).
    static let maxGraphDepth = 16

    // MARK: ModelProto

    static func model(_ file: MappedFile) throws(ModelFileError) -> ONNXModel {
        var r = ProtobufReader(file, 0..<file.bytes.count)
        var irVersion: Int64 = 0
        var producerName = ""
        var producerVersion = ""
        var domain = ""
        var modelVersion: Int64 = 0
        var graphRegion: Range<Int>?
        var opsets: [ONNXOperatorSet] = []
        while let f = try r.nextField() {
            switch f.number {
            case 1: irVersion = try r.int64(f, "ir_version")
            case 2: producerName = try r.string(f, "producer_name")
            case 3: producerVersion = try r.string(f, "producer_version")
            case 4: domain = try r.string(f, "domain")
            case 5: modelVersion = try r.int64(f, "model_version")
            case 7: graphRegion = try r.message(f, "graph")
            case 8: opsets.append(try operatorSet(file, try r.message(f, "opset_import")))
            default: try r.skip(f)
            }
        }
        guard let graphRegion else {
            throw r.error(
                .notThisFormat, at: file.bytes.count,
                "no graph: not an ONNX model, or one truncated before its graph")
        }
        guard irVersion < 3 || !opsets.isEmpty else {
            throw r.error(
                .invalidField, at: file.bytes.count,
                "IR version \(irVersion) model imports no operator set (a truncated file?)")
        }
        return ONNXModel(
            file: file, irVersion: Int(irVersion), opsetImports: opsets, producerName: producerName,
            producerVersion: producerVersion, domain: domain, modelVersion: Int(modelVersion),
            graph: try graph(file, graphRegion, depth: 0))
    }

    /// OperatorSetIdProto { domain = 1; version = 2 }
    static func operatorSet(_ file: MappedFile, _ region: Range<Int>) throws(ModelFileError) -> ONNXOperatorSet {
        var r = ProtobufReader(file, region)
        var domain = ""
        var version: Int64 = 0
        while let f = try r.nextField() {
            switch f.number {
            case 1: domain = try r.string(f, "opset_import.domain")
            case 2: version = try r.int64(f, "opset_import.version")
            default: try r.skip(f)
            }
        }
        return ONNXOperatorSet(domain: domain, version: Int(version))
    }

    // MARK: GraphProto

    /// GraphProto { node = 1; name = 2; initializer = 5; input = 11; output = 12 } (value_info = 13,
    /// doc_string = 10 and the rest are skipped).
    static func graph(_ file: MappedFile, _ region: Range<Int>, depth: Int) throws(ModelFileError) -> ONNXGraph {
        var r = ProtobufReader(file, region)
        guard depth <= maxGraphDepth else {
            throw r.error(.unsupported, at: region.lowerBound, "subgraphs nested more than \(maxGraphDepth) deep")
        }
        var name = ""
        var nodes: [ONNXNode] = []
        var initializers: [ONNXTensor] = []
        var inputs: [ONNXValueInfo] = []
        var outputs: [ONNXValueInfo] = []
        while let f = try r.nextField() {
            switch f.number {
            case 1: nodes.append(try node(file, try r.message(f, "node"), depth: depth))
            case 2: name = try r.string(f, "graph name")
            case 5: initializers.append(try tensor(file, try r.message(f, "initializer")))
            case 11: inputs.append(try valueInfo(file, try r.message(f, "graph input")))
            case 12: outputs.append(try valueInfo(file, try r.message(f, "graph output")))
            default: try r.skip(f)
            }
        }
        var constants: [ONNXTensor] = []
        for node in nodes where node.opType == "Constant" && (node.domain == "" || node.domain == "ai.onnx") {
            if let t = constant(of: node) { constants.append(t) }
        }
        return ONNXGraph(
            name: name, nodes: nodes, initializers: initializers, constants: constants,
            inputs: inputs, outputs: outputs)
    }

    /// The tensor a `Constant` node produces, named after its output; nil for string and sparse values.
    static func constant(of node: ONNXNode) -> ONNXTensor? {
        guard let output = node.outputs.first, !output.isEmpty else { return nil }
        for attribute in node.attributes {
            switch (attribute.name, attribute.value) {
            case ("value", .tensor(let t)): return t.renamed(output)
            case ("value_float", .float(let v)):
                return ONNXTensor(name: output, dataType: .float, decoded: Tensor(shape: [], floats: [v]))
            case ("value_floats", .floats(let vs)):
                return ONNXTensor(name: output, dataType: .float, decoded: Tensor(shape: [vs.count], floats: vs))
            case ("value_int", .int(let v)):
                return ONNXTensor(name: output, dataType: .int64, decoded: int64Tensor(shape: [], [v]))
            case ("value_ints", .ints(let vs)):
                return ONNXTensor(name: output, dataType: .int64, decoded: int64Tensor(shape: [vs.count], vs))
            default: continue
            }
        }
        return nil
    }

    static func int64Tensor(shape: [Int], _ values: [Int]) -> Tensor {
        let storage = TensorStorage(uninitializedBytes: values.count * 8)
        for (i, v) in values.enumerated() { storage.base.storeBytes(of: Int64(v), toByteOffset: i * 8, as: Int64.self) }
        return Tensor(shape: shape, dtype: .i64, storage: storage)
    }

    // MARK: NodeProto and AttributeProto

    /// NodeProto { input = 1; output = 2; name = 3; op_type = 4; attribute = 5; domain = 7 }
    static func node(_ file: MappedFile, _ region: Range<Int>, depth: Int) throws(ModelFileError) -> ONNXNode {
        var r = ProtobufReader(file, region)
        var inputs: [String] = []
        var outputs: [String] = []
        var name = ""
        var opType = ""
        var domain = ""
        var attributes: [ONNXAttribute] = []
        while let f = try r.nextField() {
            switch f.number {
            case 1: inputs.append(try r.string(f, "node input"))
            case 2: outputs.append(try r.string(f, "node output"))
            case 3: name = try r.string(f, "node name")
            case 4: opType = try r.string(f, "op_type")
            case 5: attributes.append(try attribute(file, try r.message(f, "attribute"), depth: depth))
            case 7: domain = try r.string(f, "node domain")
            default: try r.skip(f)
            }
        }
        return ONNXNode(
            name: name, opType: opType, domain: domain, inputs: inputs, outputs: outputs,
            attributes: attributes)
    }

    /// AttributeProto { name = 1; f = 2; i = 3; s = 4; t = 5; g = 6; floats = 7; ints = 8; strings = 9;
    /// tensors = 10; graphs = 11; type = 20 }. Without `type` (IR < 0.0.2), the value is the field present.
    static func attribute(_ file: MappedFile, _ region: Range<Int>, depth: Int) throws(ModelFileError)
        -> ONNXAttribute
    {
        var r = ProtobufReader(file, region)
        var name = ""
        var type: Int64 = 0
        var f: Float?
        var i: Int64?
        var s: String?
        var t: Range<Int>?
        var g: Range<Int>?
        var floats: [Float] = []
        var ints: [Int64] = []
        var strings: [String] = []
        var tensors: [Range<Int>] = []
        var graphs: [Range<Int>] = []
        while let field = try r.nextField() {
            switch field.number {
            case 1: name = try r.string(field, "attribute name")
            case 2: f = try r.float(field, "attribute \(name).f")
            case 3: i = try r.int64(field, "attribute \(name).i")
            case 4: s = try r.text(field, "attribute \(name).s")
            case 5: t = try r.message(field, "attribute \(name).t")
            case 6: g = try r.message(field, "attribute \(name).g")
            case 7: try r.appendFloats(field, to: &floats, "attribute \(name).floats")
            case 8: try r.appendVarints(field, to: &ints, "attribute \(name).ints")
            case 9: strings.append(try r.text(field, "attribute \(name).strings"))
            case 10: tensors.append(try r.message(field, "attribute \(name).tensors"))
            case 11: graphs.append(try r.message(field, "attribute \(name).graphs"))
            case 20: type = try r.int64(field, "attribute \(name).type")
            default: try r.skip(field)
            }
        }
        if type == 0 {
            // Without `type` (IR versions before 0.0.2), the value is whichever field is present.
            let present = [
                f != nil, i != nil, s != nil, t != nil, g != nil,
                !floats.isEmpty, !ints.isEmpty, !strings.isEmpty, !tensors.isEmpty, !graphs.isEmpty,
            ]
            type = Int64(present.firstIndex(of: true).map { $0 + 1 } ?? 0)
        }
        func missing(_ what: String) -> ModelFileError {
            r.error(.invalidField, at: region.lowerBound, "attribute \(name) of type \(what) has no value")
        }
        let value: ONNXAttribute.Value
        switch type {
        case 1: value = .float(f ?? 0)
        case 2: value = .int(Int(i ?? 0))
        case 3: value = .string(s ?? "")
        case 4:
            guard let t else { throw missing("TENSOR") }
            value = .tensor(try tensor(file, t))
        case 5:
            guard let g else { throw missing("GRAPH") }
            value = .graph(try graph(file, g, depth: depth + 1))
        case 6: value = .floats(floats)
        case 7: value = .ints(ints.map { Int($0) })
        case 8: value = .strings(strings)
        case 9:
            var decoded: [ONNXTensor] = []
            for region in tensors { decoded.append(try tensor(file, region)) }
            value = .tensors(decoded)
        case 10:
            var decoded: [ONNXGraph] = []
            for region in graphs { decoded.append(try graph(file, region, depth: depth + 1)) }
            value = .graphs(decoded)
        default: value = .unsupported(type: Int(truncatingIfNeeded: type))
        }
        return ONNXAttribute(name: name, value: value)
    }

    // MARK: ValueInfoProto and TypeProto

    /// ValueInfoProto { name = 1; type = 2 } → TypeProto { tensor_type = 1 } → Tensor { elem_type = 1;
    /// shape = 2 } → TensorShapeProto { dim = 1 } → Dimension { dim_value = 1; dim_param = 2 }.
    static func valueInfo(_ file: MappedFile, _ region: Range<Int>) throws(ModelFileError) -> ONNXValueInfo {
        var r = ProtobufReader(file, region)
        var name = ""
        var elementType: ONNXDataType?
        var dimensions: [ONNXDimension]?
        while let f = try r.nextField() {
            switch f.number {
            case 1: name = try r.string(f, "value name")
            case 2:
                var type = ProtobufReader(file, try r.message(f, "type of \(name)"))
                while let tf = try type.nextField() {
                    guard tf.number == 1 else {
                        try type.skip(tf)
                        continue
                    }
                    var tensorType = ProtobufReader(file, try type.message(tf, "tensor type of \(name)"))
                    while let ttf = try tensorType.nextField() {
                        switch ttf.number {
                        case 1:
                            let code = try tensorType.int64(ttf, "elem_type of \(name)")
                            elementType = code == 0 ? nil : ONNXDataType(rawValue: Int(truncatingIfNeeded: code))
                        case 2: dimensions = try shape(file, try tensorType.message(ttf, "shape of \(name)"))
                        default: try tensorType.skip(ttf)
                        }
                    }
                }
            default: try r.skip(f)
            }
        }
        return ONNXValueInfo(name: name, elementType: elementType, dimensions: dimensions)
    }

    static func shape(_ file: MappedFile, _ region: Range<Int>) throws(ModelFileError) -> [ONNXDimension] {
        var r = ProtobufReader(file, region)
        var dims: [ONNXDimension] = []
        while let f = try r.nextField() {
            guard f.number == 1 else {
                try r.skip(f)
                continue
            }
            var d = ProtobufReader(file, try r.message(f, "dimension"))
            var dim = ONNXDimension.unknown
            while let df = try d.nextField() {
                switch df.number {
                case 1: dim = .value(Int(try d.int64(df, "dim_value")))
                case 2: dim = .parameter(try d.string(df, "dim_param"))
                default: try d.skip(df)
                }
            }
            dims.append(dim)
        }
        return dims
    }

    // MARK: TensorProto

    /// TensorProto { dims = 1; data_type = 2; float_data = 4; int32_data = 5; string_data = 6;
    /// int64_data = 7; name = 8; raw_data = 9; double_data = 10; uint64_data = 11; external_data = 13;
    /// data_location = 14 }.
    ///
    /// `raw_data` becomes a view of the file. Typed fields are counted in a first pass (so the storage is
    /// sized from the shape and checked against the values present) and decoded in a second.
    static func tensor(_ file: MappedFile, _ region: Range<Int>) throws(ModelFileError) -> ONNXTensor {
        var r = ProtobufReader(file, region)
        var dims: [Int64] = []
        var code: Int64 = 0
        var name = ""
        var raw: Range<Int>?
        var rawOffset = region.lowerBound
        var external = false
        var location: Int64 = 0
        var typedCounts: [Int: Int] = [:]  // values per typed field number
        while let f = try r.nextField() {
            switch f.number {
            case 1: try r.appendVarints(f, to: &dims, "dims of \(name)")
            case 2: code = try r.int64(f, "data_type of \(name)")
            case 4: typedCounts[4, default: 0] += try r.skipCountingValues(f, width: 4, "float_data of \(name)")
            case 5, 7, 11:
                typedCounts[f.number, default: 0] += try r.skipCountingValues(f, width: nil, "data of \(name)")
            case 10: typedCounts[10, default: 0] += try r.skipCountingValues(f, width: 8, "double_data of \(name)")
            case 8: name = try r.string(f, "tensor name")
            case 9:
                rawOffset = f.offset
                raw = try r.message(f, "raw_data of \(name)")
            case 13:
                external = true
                try r.skip(f)
            case 14: location = try r.int64(f, "data_location of \(name)")
            default: try r.skip(f)
            }
        }
        let at = region.lowerBound
        guard !external && location != 1 else {
            throw r.error(
                .unsupported, at: at,
                "tensor \(name) keeps its data in an external file (external data is not supported)")
        }
        let dataType = ONNXDataType(rawValue: Int(truncatingIfNeeded: code))
        guard let dtype = dataType.dtype else {
            throw r.error(.unsupported, at: at, "tensor \(name) has element type \(dataType), which is not supported")
        }
        var shape: [Int] = []
        for d in dims {
            guard d >= 0 else { throw r.error(.invalidField, at: at, "tensor \(name) has dimension \(d)") }
            shape.append(Int(d))
        }
        guard let count = Tensor.elementCount(of: shape), let byteCount = dtype.byteCount(elements: count) else {
            throw r.error(.invalidField, at: at, "tensor \(name): dimensions \(shape) overflow")
        }
        if let raw {
            guard raw.count == byteCount else {
                throw r.error(
                    .invalidField, at: rawOffset,
                    "tensor \(name): raw_data holds \(raw.count) bytes, shape \(shape) of \(dtype) needs \(byteCount)")
            }
            return ONNXTensor(
                name: name, dataType: dataType, shape: shape, dtype: dtype, file: file,
                offset: raw.lowerBound, byteCount: byteCount)
        }

        // Typed fields: float_data for float, double_data for double, int64_data for int64, and
        // int32_data for every narrower type (float16/bfloat16 as their bit patterns).
        let field =
            switch dtype {
            case .f32: 4
            case .f64: 10
            case .i64: 7
            default: 5
            }
        let present = typedCounts[field] ?? 0
        guard present == count else {
            throw r.error(
                .invalidField, at: at,
                "tensor \(name) holds \(present) values for shape \(shape) (\(count) elements)")
        }
        let storage = TensorStorage(uninitializedBytes: byteCount)
        var written = 0
        var values = ProtobufReader(file, region)
        while let f = try values.nextField() {
            guard f.number == field else {
                try values.skip(f)
                continue
            }
            try decode(&values, f, dtype: dtype, into: storage, at: &written, count: count, tensor: name)
        }
        guard written == count else {
            throw r.error(.invalidField, at: at, "tensor \(name): decoded \(written) of \(count) values")
        }
        return ONNXTensor(
            name: name, dataType: dataType,
            decoded: Tensor(shape: shape, dtype: dtype, storage: storage))
    }

    /// Decodes one occurrence of a typed data field (packed or not) into `storage` from element `index`.
    private static func decode(
        _ r: inout ProtobufReader, _ f: ProtobufReader.Field, dtype: DType, into storage: TensorStorage,
        at index: inout Int, count: Int, tensor name: String
    ) throws(ModelFileError) {
        let what = "data of \(name)"
        func decodeOne(_ values: inout ProtobufReader) throws(ModelFileError) {
            guard index < count else {
                throw values.error(.invalidField, at: f.offset, "\(what) holds more than \(count) values")
            }
            let base = storage.base
            // Host byte order is little-endian on every platform Hark runs on, as in the file.
            switch dtype {
            case .f32: base.storeBytes(of: try values.fixed32(what), toByteOffset: index * 4, as: UInt32.self)
            case .f64: base.storeBytes(of: try values.fixed64(what), toByteOffset: index * 8, as: UInt64.self)
            case .i64: base.storeBytes(of: try values.varint(what), toByteOffset: index * 8, as: UInt64.self)
            case .i32:
                let v = UInt32(truncatingIfNeeded: try values.varint(what))
                base.storeBytes(of: v, toByteOffset: index * 4, as: UInt32.self)
            case .i16, .f16, .bf16:
                let v = UInt16(truncatingIfNeeded: try values.varint(what))
                base.storeBytes(of: v, toByteOffset: index * 2, as: UInt16.self)
            default:
                let v = UInt8(truncatingIfNeeded: try values.varint(what))
                base.storeBytes(of: v, toByteOffset: index, as: UInt8.self)
            }
            index += 1
        }
        if f.wireType == .lengthDelimited {
            var packed = ProtobufReader(r.file, try r.lengthDelimited(what))
            while !packed.cursor.isAtEnd { try decodeOne(&packed) }
        } else {
            try decodeOne(&r)
        }
    }
}
