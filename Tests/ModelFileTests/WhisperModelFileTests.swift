import Tensors
import Testing

/// The default Whisper model, whisper-tiny.en's CTranslate2 `model.bin` (float16): facts from
/// research/whisper.md §3.3.
@Suite("Whisper tiny.en (CTranslate2)")
struct WhisperModelFileTests {
    let model: CTranslate2Model

    init() throws {
        model = try CTranslate2Model(path: try DefaultModels.path(DefaultModels.whisper))
    }

    @Test("header: binary version 6, WhisperSpec revision 3, 148 variables, one alias")
    func header() {
        #expect(model.binaryVersion == 6)
        #expect(model.specName == "WhisperSpec")
        #expect(model.specRevision == 3)
        #expect(model.variables.count == 148)
        #expect(model.aliases == [.init(name: "decoder/projection/weight", target: "decoder/embeddings/weight")])
        #expect(model.file.bytes.count == 75_537_502)
        #expect(model.variables.first?.name == "decoder/activation")
        let names = model.variables.map(\.name)
        #expect(names == names.sorted())
    }

    @Test("opening the directory finds model.bin")
    func openDirectory() throws {
        let file = try DefaultModels.path(DefaultModels.whisper)
        let directory = String(file.dropLast("/model.bin".count))
        let opened = try CTranslate2Model(path: directory)
        #expect(opened.variables.count == 148)
        #expect(opened.file.path.hasSuffix("/model.bin"))
    }

    @Test("types: 139 × f16, 5 × i8, 4 × i16")
    func types() {
        let counts = Dictionary(grouping: model.variables, by: \.dtype).mapValues(\.count)
        #expect(counts == [.f16: 139, .i8: 5, .i16: 4])
    }

    @Test("config scalars")
    func scalars() {
        #expect(model.integer(named: "decoder/activation") == 3)
        #expect(model.integer(named: "decoder/alibi") == 0)
        #expect(model.integer(named: "decoder/alignment_heads") == 1)
        #expect(model.integer(named: "decoder/alignment_layer") == -1)
        #expect(model.integer(named: "decoder/num_heads") == 6)
        #expect(model.integer(named: "decoder/pre_norm") == 1)
        #expect(model.integer(named: "decoder/scale_embeddings") == 0)
        #expect(model.integer(named: "decoder/start_from_zero_embedding") == 0)
        #expect(model.integer(named: "encoder/num_heads") == 6)
        #expect(model.scalar(named: "encoder/num_heads") == 6)
        // Newer converters add scalars this file lacks; they read as absent, not as an error.
        #expect(model.integer(named: "decoder/alibi_use_positive_positions") == nil)
        // Not scalars: nil.
        #expect(model.scalar(named: "encoder/conv1/bias") == nil)
        #expect(model.integer(named: "encoder/layer_norm/gamma") == nil)
    }

    @Test("tensor shapes of the encoder and decoder")
    func shapes() {
        let expected: [String: [Int]] = [
            "encoder/conv1/weight": [384, 80, 3], "encoder/conv1/bias": [384],
            "encoder/conv2/weight": [384, 384, 3], "encoder/conv2/bias": [384],
            "encoder/position_encodings/encodings": [1500, 384],
            "encoder/layer_norm/gamma": [384], "encoder/layer_norm/beta": [384],
            "decoder/embeddings/weight": [51864, 384],
            "decoder/position_encodings/encodings": [448, 384],
            "decoder/layer_norm/gamma": [384], "decoder/layer_norm/beta": [384],
        ]
        for (name, shape) in expected { #expect(model.variable(named: name)?.shape == shape, "\(name)") }
        for layer in 0..<4 {
            let e = "encoder/layer_\(layer)/"
            #expect(model.variable(named: e + "self_attention/linear_0/weight")?.shape == [1152, 384])
            #expect(model.variable(named: e + "self_attention/linear_0/bias")?.shape == [1152])
            #expect(model.variable(named: e + "self_attention/linear_1/weight")?.shape == [384, 384])
            #expect(model.variable(named: e + "self_attention/layer_norm/gamma")?.shape == [384])
            #expect(model.variable(named: e + "ffn/linear_0/weight")?.shape == [1536, 384])
            #expect(model.variable(named: e + "ffn/linear_1/weight")?.shape == [384, 1536])
            let d = "decoder/layer_\(layer)/"
            #expect(model.variable(named: d + "self_attention/linear_0/weight")?.shape == [1152, 384])
            #expect(model.variable(named: d + "attention/linear_0/weight")?.shape == [384, 384])
            #expect(model.variable(named: d + "attention/linear_1/weight")?.shape == [768, 384])
            #expect(model.variable(named: d + "attention/linear_2/weight")?.shape == [384, 384])
            #expect(model.variable(named: d + "attention/layer_norm/beta")?.shape == [384])
            #expect(model.variable(named: d + "ffn/linear_1/bias")?.shape == [384])
        }
        #expect(model.variable(named: "encoder/layer_4/ffn/linear_0/weight") == nil)
    }

    @Test("the alias resolves to the embedding's bytes")
    func alias() throws {
        let projection = try #require(model.variable(named: "decoder/projection/weight"))
        let embeddings = try #require(model.variable(named: "decoder/embeddings/weight"))
        #expect(projection.offset == embeddings.offset)
        #expect(projection.name == "decoder/embeddings/weight")
        #expect(model.tensor(named: "decoder/projection/weight")?.shape == [51864, 384])
    }

    @Test("variables tile the file: records back to back, the alias table last")
    func layout() {
        #expect(model.variables.first.map { $0.offset - (2 + "decoder/activation".utf8.count + 1) - 1 - 1 - 4 } == 26)
        for (previous, next) in zip(model.variables, model.variables.dropFirst()) {
            let recordBytes = 2 + next.name.utf8.count + 1 + 1 + 4 * next.shape.count + 1 + 4
            #expect(previous.offset + previous.byteCount + recordBytes == next.offset, "\(next.name)")
        }
        // The sinusoidal encoder positions: row 0 is sin(0) = 0 in the first half, cos(0) = 1 in the second.
        let positions = model.tensor(named: "encoder/position_encodings/encodings")?.floats() ?? []
        #expect(positions.count == 1500 * 384)
        #expect(positions.prefix(192).allSatisfy { $0 == 0 })
        #expect(positions.dropFirst(192).prefix(192).allSatisfy { $0 == 1 })
    }
}
