import Tensors
import Testing

/// Truncated and corrupted copies of the real default models: every reader must either throw a
/// `ModelFileError` naming the file, or return a model whose every tensor lies inside the file. Never
/// a crash, a trap, a hang or a huge allocation. Seeded, so a failure reproduces.
///
/// Truncations are prefix views of the mapped file (no copy); corruptions flip bits in a private
/// copy-on-write mapping (only the touched page is copied).
@Suite("Fuzzing the real model files")
struct ModelFileFuzzTests {
    static let truncations = 300
    static let corruptions = 300

    // MARK: Helpers

    /// Offsets to cut at: every one of the first 64 bytes, the last few, and random ones, two thirds of
    /// them inside `structure` (where the reader does most of its work).
    static func cutPoints(size: Int, structure: [Range<Int>], seed: UInt64) -> [Int] {
        var rng = SeededRandom(seed: seed)
        var cuts = Array(0..<64) + [size - 1, size - 2, size - 8, size - 100]
        while cuts.count < truncations {
            if cuts.count % 3 == 0 {
                cuts.append(Int.random(in: 0..<size, using: &rng))
            } else {
                cuts.append(pick(in: structure, using: &rng))
            }
        }
        return cuts
    }

    /// A random offset in `regions`, each byte equally likely.
    static func pick(in regions: [Range<Int>], using rng: inout SeededRandom) -> Int {
        var k = Int.random(in: 0..<regions.reduce(0) { $0 + $1.count }, using: &rng)
        for region in regions {
            if k < region.count { return region.lowerBound + k }
            k -= region.count
        }
        return regions.last?.lowerBound ?? 0
    }

    /// Opens `path` with one to four bits flipped at offsets drawn from `regions` (weighted by length).
    static func corrupted(_ path: String, regions: [Range<Int>], rng: inout SeededRandom) throws -> MappedFile {
        let flips = (0..<Int.random(in: 1...4, using: &rng)).map { _ in
            (pick(in: regions, using: &rng), UInt8(1) << UInt8.random(in: 0..<8, using: &rng))
        }
        return try MappedFile(path: path) { bytes in
            for (offset, bit) in flips { bytes[offset] ^= bit }
        }
    }

    /// Runs `open`; returns whether it parsed. A thrown error must be a `ModelFileError` naming the file
    /// with an offset inside it.
    static func attempt<T>(_ file: MappedFile, _ open: (MappedFile) throws -> T) -> T? {
        do {
            return try open(file)
        } catch let error as ModelFileError {
            #expect(error.file == file.path)
            #expect(error.offset >= 0 && error.offset <= file.bytes.count, "\(error)")
            return nil
        } catch {
            Issue.record("not a ModelFileError: \(error)")
            return nil
        }
    }

    // MARK: ONNX

    @Test("ONNX: every truncation throws")
    func onnxTruncated() throws {
        let original = try MappedFile(path: try DefaultModels.path(DefaultModels.voice))
        let size = original.bytes.count
        for cut in ModelFileFuzzTests.cutPoints(size: size, structure: [0..<300_000], seed: 1) {
            let parsed = ModelFileFuzzTests.attempt(original.prefix(cut)) { try ONNXModel(file: $0) }
            #expect(parsed == nil, "a copy cut at \(cut) of \(size) bytes parsed")
        }
    }

    @Test("ONNX: bit flips in the first 300 KB (header, nodes) throw or stay in bounds")
    func onnxCorrupted() throws {
        let path = try DefaultModels.path(DefaultModels.voice)
        var rng = SeededRandom(seed: 2)
        var parsed = 0
        for _ in 0..<ModelFileFuzzTests.corruptions {
            let file = try ModelFileFuzzTests.corrupted(path, regions: [0..<300_000], rng: &rng)
            guard let model = ModelFileFuzzTests.attempt(file, { try ONNXModel(file: $0) }) else { continue }
            parsed += 1
            for t in model.graph.allTensors {
                if let offset = t.fileOffset {
                    #expect(offset >= 0 && offset + t.byteCount <= file.bytes.count, "\(t.name)")
                } else {
                    #expect(t.tensor.byteCount == t.byteCount)
                }
            }
        }
        #expect(parsed > 0, "no corrupted copy parsed: the test exercises only the error paths")
    }

    // MARK: CTranslate2

    /// The header and every variable record's fields (name, rank, dims, type, size), plus the alias
    /// table: everything in model.bin but the tensor payloads.
    static func ct2Structure(_ model: CTranslate2Model) -> [Range<Int>] {
        var regions: [Range<Int>] = []
        var end = 0  // the first region holds the header too
        for v in model.variables {
            regions.append(end..<v.offset)
            end = v.offset + v.byteCount
        }
        regions.append(end..<model.file.bytes.count)
        return regions
    }

    @Test("CTranslate2: every truncation throws")
    func ct2Truncated() throws {
        let original = try MappedFile(path: try DefaultModels.path(DefaultModels.whisper))
        let size = original.bytes.count
        let records = ModelFileFuzzTests.ct2Structure(try CTranslate2Model(file: original))
        for cut in ModelFileFuzzTests.cutPoints(size: size, structure: records, seed: 3) {
            let parsed = ModelFileFuzzTests.attempt(original.prefix(cut)) { try CTranslate2Model(file: $0) }
            #expect(parsed == nil, "a copy cut at \(cut) of \(size) bytes parsed")
        }
    }

    @Test("CTranslate2: bit flips in the header and variable records throw or stay in bounds")
    func ct2Corrupted() throws {
        let path = try DefaultModels.path(DefaultModels.whisper)
        let regions = ModelFileFuzzTests.ct2Structure(try CTranslate2Model(path: path))
        var rng = SeededRandom(seed: 4)
        var parsed = 0
        for _ in 0..<ModelFileFuzzTests.corruptions {
            let file = try ModelFileFuzzTests.corrupted(path, regions: regions, rng: &rng)
            guard let model = ModelFileFuzzTests.attempt(file, { try CTranslate2Model(file: $0) }) else { continue }
            parsed += 1
            for v in model.variables {
                #expect(v.offset >= 0 && v.offset + v.byteCount <= file.bytes.count, "\(v.name)")
                #expect(v.dtype.byteCount(elements: v.shape.reduce(1, *)) == v.byteCount)
            }
            for v in model.variables where v.shape.isEmpty { _ = model.scalar(named: v.name) }
        }
        #expect(parsed > 0, "no corrupted copy parsed: the test exercises only the error paths")
    }

    // MARK: GGUF

    /// Where the tensor infos start: the u64 length of the first tensor's name, found by its bytes.
    static func tensorInfoStart(_ file: MappedFile, firstTensor name: String, before end: Int) -> Int? {
        let needle = withUnsafeBytes(of: UInt64(name.utf8.count).littleEndian, Array.init) + Array(name.utf8)
        let bytes = file.bytes
        var i = end - needle.count
        while i >= 0 {
            if bytes[i] == needle[0] && needle.indices.allSatisfy({ bytes[i + $0] == needle[$0] }) { return i }
            i -= 1
        }
        return nil
    }

    @Test("GGUF: every truncation throws")
    func ggufTruncated() throws {
        let original = try MappedFile(path: try DefaultModels.path(DefaultModels.llm))
        let size = original.bytes.count
        for cut in ModelFileFuzzTests.cutPoints(size: size, structure: [0..<1_785_664], seed: 5) {
            let parsed = ModelFileFuzzTests.attempt(original.prefix(cut)) { try GGUFFile(file: $0) }
            #expect(parsed == nil, "a copy cut at \(cut) of \(size) bytes parsed")
        }
    }

    @Test("GGUF: bit flips in the header, metadata and tensor infos throw or stay in bounds")
    func ggufCorrupted() throws {
        let path = try DefaultModels.path(DefaultModels.llm)
        let gguf = try GGUFFile(path: path)
        let infos = try #require(
            ModelFileFuzzTests.tensorInfoStart(gguf.file, firstTensor: "token_embd.weight", before: gguf.dataOffset))
        // Half the flips land in the tensor infos, a quarter in the header and first entries, the rest
        // anywhere in the metadata (mostly the tokenizer's strings).
        let regions = [infos..<gguf.dataOffset, 0..<4096, 0..<infos]
        var rng = SeededRandom(seed: 6)
        var parsed = 0
        for i in 0..<ModelFileFuzzTests.corruptions {
            let region = regions[i % 2 == 0 ? 0 : (i % 4 == 1 ? 1 : 2)]
            let file = try ModelFileFuzzTests.corrupted(path, regions: [region], rng: &rng)
            guard let model = ModelFileFuzzTests.attempt(file, { try GGUFFile(file: $0) }) else { continue }
            parsed += 1
            for info in model.tensors {
                #expect(info.offset >= model.dataOffset && info.offset + info.byteCount <= file.bytes.count)
                #expect(info.offset % model.alignment == 0)
                let tensor = model.tensor(info)  // traps if the reader let a bad tensor through
                #expect(tensor.byteCount == info.byteCount)
            }
            for (_, value) in model.metadata {
                if let array = value.array, array.elementType == .string { _ = array.strings() }
            }
        }
        #expect(parsed > 0, "no corrupted copy parsed: the test exercises only the error paths")
    }
}
