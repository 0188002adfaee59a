// ONNX models (`.onnx`), read with our own protobuf decoder. Schema: onnx/onnx.proto,
// https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto). Decoding lives in ONNXParser.swift.

/// An ONNX model: the header fields and the main graph, whose weights point into the mapped file.
///
/// Reads what a hand-written runtime needs: nodes with their attributes, graph inputs and outputs, every
/// initializer and every `Constant` node's tensor, in subgraphs too. Not read: `value_info`, doc
/// strings, metadata, functions, sparse tensors, training info.
public struct ONNXModel: Sendable {
    /// The mapped file.
    public let file: MappedFile
    /// ONNX IR version (e.g. 8).
    public let irVersion: Int
    /// The operator sets the model uses, e.g. `("", 15)`.
    public let opsetImports: [ONNXOperatorSet]
    /// Tool that wrote the model, e.g. `pytorch`.
    public let producerName: String
    /// Version of that tool.
    public let producerVersion: String
    /// Model namespace (often empty).
    public let domain: String
    /// Version of the model itself.
    public let modelVersion: Int
    /// The main graph.
    public let graph: ONNXGraph

    /// Opens and parses the ONNX model at `path`.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem; `.unsupported`
    ///   for tensors stored outside the file (external data) or of a type without a `DType`.
    public init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses a mapped ONNX model.
    /// - Throws: `ModelFileError` naming the file and the offset of the first problem.
    public init(file: MappedFile) throws(ModelFileError) {
        self = try ONNXParser.model(file)
    }

    init(
        file: MappedFile, irVersion: Int, opsetImports: [ONNXOperatorSet], producerName: String,
        producerVersion: String, domain: String, modelVersion: Int, graph: ONNXGraph
    ) {
        self.file = file
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.graph = graph
    }

    /// The version of the default (`""`, i.e. `ai.onnx`) operator set, if imported.
    public var opsetVersion: Int? {
        opsetImports.first { $0.domain == "" || $0.domain == "ai.onnx" }?.version
    }

    /// The initializer or `Constant` output named `name`, searched in the main graph, then in subgraphs.
    public func tensor(named name: String) -> Tensor? {
        graph.tensor(named: name)
    }
}

/// An operator set a model imports: a domain (`""` is `ai.onnx`) and its version.
public struct ONNXOperatorSet: Sendable, Hashable {
    /// Operator domain; `""` and `ai.onnx` are the standard operators.
    public let domain: String
    /// Operator set version, e.g. 15.
    public let version: Int

    /// An operator set of `domain` at `version`.
    public init(domain: String, version: Int) {
        self.domain = domain
        self.version = version
    }
}

/// A computation graph: nodes in topological order, its inputs and outputs, and its weights.
public struct ONNXGraph: Sendable {
    /// Graph name (e.g. `torch_jit`).
    public let name: String
    /// The nodes, in the order the file lists them (topological for a valid model).
    public let nodes: [ONNXNode]
    /// The weights stored as initializers.
    public let initializers: [ONNXTensor]
    /// The tensors produced by `Constant` nodes, named after the node's output.
    public let constants: [ONNXTensor]
    /// Graph inputs (initializers may also be listed here in older models).
    public let inputs: [ONNXValueInfo]
    /// Graph outputs.
    public let outputs: [ONNXValueInfo]

    /// Where each name in `initializers` and `constants` is (initializers win over constants).
    private let tensorIndex: [String: TensorLocation]
    /// The graphs held by this graph's nodes' attributes (If/Loop/Scan bodies), in node order.
    public let subgraphs: [ONNXGraph]

    private enum TensorLocation: Sendable {
        case initializer(Int)
        case constant(Int)
    }

    init(
        name: String, nodes: [ONNXNode], initializers: [ONNXTensor], constants: [ONNXTensor],
        inputs: [ONNXValueInfo], outputs: [ONNXValueInfo]
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.constants = constants
        self.inputs = inputs
        self.outputs = outputs
        var index: [String: TensorLocation] = [:]
        index.reserveCapacity(initializers.count + constants.count)
        for (i, t) in constants.enumerated() { index[t.name] = .constant(i) }
        for (i, t) in initializers.enumerated() { index[t.name] = .initializer(i) }
        tensorIndex = index
        var subgraphs: [ONNXGraph] = []
        for node in nodes {
            for attribute in node.attributes {
                switch attribute.value {
                case .graph(let g): subgraphs.append(g)
                case .graphs(let gs): subgraphs.append(contentsOf: gs)
                default: break
                }
            }
        }
        self.subgraphs = subgraphs
    }

    /// The initializer or `Constant` output named `name`, with its ONNX type; searched in this graph,
    /// then depth-first in its subgraphs.
    public func onnxTensor(named name: String) -> ONNXTensor? {
        switch tensorIndex[name] {
        case .initializer(let i): return initializers[i]
        case .constant(let i): return constants[i]
        case nil:
            for graph in subgraphs {
                if let t = graph.onnxTensor(named: name) { return t }
            }
            return nil
        }
    }

    /// The elements of the initializer or `Constant` output named `name` (see `onnxTensor(named:)`).
    public func tensor(named name: String) -> Tensor? {
        onnxTensor(named: name)?.tensor
    }

    /// Every initializer and constant of this graph and, depth first, of its subgraphs.
    public var allTensors: [ONNXTensor] {
        initializers + constants + subgraphs.flatMap(\.allTensors)
    }
}

/// One operator application.
public struct ONNXNode: Sendable {
    /// Node name (may be empty), e.g. `/dec/ups.0/ConvTranspose`.
    public let name: String
    /// Operator, e.g. `ConvTranspose`.
    public let opType: String
    /// Operator domain (`""` is `ai.onnx`).
    public let domain: String
    /// Input names in operator order; `""` marks an omitted optional input.
    public let inputs: [String]
    /// Output names.
    public let outputs: [String]
    /// Attributes in file order.
    public let attributes: [ONNXAttribute]

    /// The value of the attribute named `name`.
    public func attribute(_ name: String) -> ONNXAttribute.Value? {
        attributes.first { $0.name == name }?.value
    }
}

/// A named attribute of a node.
public struct ONNXAttribute: Sendable {
    /// Attribute name, e.g. `strides`.
    public let name: String
    /// Its value.
    public let value: Value

    /// An attribute value, by ONNX `AttributeType`.
    public enum Value: Sendable {
        case float(Float)
        case int(Int)
        /// A `bytes` value read as UTF-8 (invalid sequences replaced).
        case string(String)
        case tensor(ONNXTensor)
        case graph(ONNXGraph)
        case floats([Float])
        case ints([Int])
        case strings([String])
        case tensors([ONNXTensor])
        case graphs([ONNXGraph])
        /// A type this reader does not decode (sparse tensors, type protos), by its `AttributeType` code.
        case unsupported(type: Int)

        /// The value of a `float` attribute.
        public var float: Float? { if case .float(let v) = self { v } else { nil } }
        /// The value of an `int` attribute.
        public var int: Int? { if case .int(let v) = self { v } else { nil } }
        /// The value of a `string` attribute.
        public var string: String? { if case .string(let v) = self { v } else { nil } }
        /// The values of a `floats` attribute.
        public var floats: [Float]? { if case .floats(let v) = self { v } else { nil } }
        /// The values of an `ints` attribute.
        public var ints: [Int]? { if case .ints(let v) = self { v } else { nil } }
        /// The value of a `tensor` attribute.
        public var tensor: ONNXTensor? { if case .tensor(let v) = self { v } else { nil } }
        /// The value of a `graph` attribute.
        public var graph: ONNXGraph? { if case .graph(let v) = self { v } else { nil } }
    }
}

/// A graph input or output: a name and, when the model states them, an element type and dimensions.
public struct ONNXValueInfo: Sendable {
    /// Value name, e.g. `input`.
    public let name: String
    /// Element type of a tensor value; nil for other value kinds (sequences, maps) or when unstated.
    public let elementType: ONNXDataType?
    /// Dimensions of a tensor value, outermost first; nil when the rank is unknown.
    public let dimensions: [ONNXDimension]?
}

/// One dimension of a value's declared shape.
public enum ONNXDimension: Sendable, Hashable, CustomStringConvertible {
    /// A fixed size.
    case value(Int)
    /// A named symbolic size, e.g. `batch_size`.
    case parameter(String)
    /// Neither given.
    case unknown

    public var description: String {
        switch self {
        case .value(let v): "\(v)"
        case .parameter(let p): p
        case .unknown: "?"
        }
    }
}

/// An ONNX `TensorProto.DataType` code (unknown codes are kept, not rejected).
public struct ONNXDataType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The `TensorProto.DataType` code.
    public let rawValue: Int
    /// The data type with code `rawValue`.
    public init(rawValue: Int) { self.rawValue = rawValue }

    // The codes this package reads or names (the standard's names, lowercased).

    public static let float = ONNXDataType(rawValue: 1)
    public static let uint8 = ONNXDataType(rawValue: 2)
    public static let int8 = ONNXDataType(rawValue: 3)
    public static let uint16 = ONNXDataType(rawValue: 4)
    public static let int16 = ONNXDataType(rawValue: 5)
    public static let int32 = ONNXDataType(rawValue: 6)
    public static let int64 = ONNXDataType(rawValue: 7)
    public static let string = ONNXDataType(rawValue: 8)
    public static let bool = ONNXDataType(rawValue: 9)
    public static let float16 = ONNXDataType(rawValue: 10)
    public static let double = ONNXDataType(rawValue: 11)
    public static let uint32 = ONNXDataType(rawValue: 12)
    public static let uint64 = ONNXDataType(rawValue: 13)
    public static let bfloat16 = ONNXDataType(rawValue: 16)

    /// The element type tensors of this type are read as (`bool` as `u8`), or nil if there is none.
    public var dtype: DType? {
        switch rawValue {
        case 1: .f32
        case 2, 9: .u8
        case 3: .i8
        case 5: .i16
        case 6: .i32
        case 7: .i64
        case 10: .f16
        case 11: .f64
        case 16: .bf16
        default: nil
        }
    }

    public var description: String {
        let names = [
            1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
            8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 16: "bfloat16",
        ]
        return names[rawValue] ?? "data type \(rawValue)"
    }
}

/// A tensor stored in the model: an initializer, a `Constant` node's value or a tensor attribute.
public struct ONNXTensor: Sendable {
    /// Name (for a `Constant`: the node's output name).
    public let name: String
    /// ONNX element type (`bool` keeps its identity here; its `dtype` is `u8`).
    public let dataType: ONNXDataType
    /// Row-major shape (`dims`); `[]` for a scalar.
    public let shape: [Int]
    /// Element type of `tensor`.
    public let dtype: DType
    /// Where the bytes lie in the file for `raw_data` tensors; nil for tensors decoded from typed fields.
    public let fileOffset: Int?
    /// Bytes the elements occupy.
    public let byteCount: Int
    private let storage: Storage

    private enum Storage: Sendable {
        case file(MappedFile)
        case decoded(Tensor)
    }

    /// A tensor whose `raw_data` lies at `offset` in `file`.
    init(
        name: String, dataType: ONNXDataType, shape: [Int], dtype: DType, file: MappedFile, offset: Int,
        byteCount: Int
    ) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.dtype = dtype
        self.fileOffset = offset
        self.byteCount = byteCount
        storage = .file(file)
    }

    /// A tensor decoded into memory.
    init(name: String, dataType: ONNXDataType, decoded tensor: Tensor) {
        self.name = name
        self.dataType = dataType
        shape = tensor.shape
        dtype = tensor.dtype
        fileOffset = nil
        byteCount = tensor.byteCount
        storage = .decoded(tensor)
    }

    /// The same tensor under another name.
    func renamed(_ newName: String) -> ONNXTensor {
        switch storage {
        case .file(let file):
            ONNXTensor(
                name: newName, dataType: dataType, shape: shape, dtype: dtype, file: file,
                offset: fileOffset ?? 0, byteCount: byteCount)
        case .decoded(let tensor): ONNXTensor(name: newName, dataType: dataType, decoded: tensor)
        }
    }

    /// The elements: for `raw_data`, a view of the mapped file when aligned for `dtype`, otherwise a copy
    /// made on each access (ONNX does not align data; keep the result).
    public var tensor: Tensor {
        switch storage {
        case .file(let file): Tensor(file: file, offset: fileOffset ?? 0, shape: shape, dtype: dtype)
        case .decoded(let tensor): tensor
        }
    }
}
