import Testing

@testable import Tensors

/// A GGUF string: u64 length, then the UTF-8 bytes.
func gstr(_ s: String) -> [UInt8] {
    le(UInt64(s.utf8.count)) + Array(s.utf8)
}

/// A tiny GGUF file built field by field (layout: ggml's docs/gguf.md). `offsets` records where each
/// key, value type (`key.value`) and tensor field (`name.dims`, `.type`, `.offset`) starts.
struct TinyGGUF {
    struct TensorRecord {
        var name: String
        var dims: [UInt64]
        var type: UInt32
        var offset: UInt64
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    /// Metadata entries: key, GGUF value type and the value's bytes.
    var metadata: [(key: String, type: UInt32, value: [UInt8])] = [
        ("general.architecture", 8, gstr("llama")),
        ("llama.block_count", 4, le(UInt32(2))),
        ("llama.rope.freq_base", 6, le(Float(10_000).bitPattern)),
        ("tiny.i64", 11, le(Int64(-5))),
        ("tiny.f64", 12, le((0.25).bitPattern)),
        ("tiny.flag", 7, [1]),
        ("tiny.u8", 0, [200]),
        ("tiny.i8", 1, [0xFF]),
        ("tiny.u16", 2, le(UInt16.max)),
        ("tiny.i16", 3, le(Int16.min)),
        ("tiny.i32", 5, le(Int32(-7))),
        ("tiny.u64", 10, le(UInt64.max)),
        ("tokenizer.ggml.tokens", 9, le(UInt32(8)) + le(UInt64(4)) + ["<s>", "a", "été", "🙂"].flatMap(gstr)),
        ("tokenizer.ggml.token_type", 9, le(UInt32(5)) + le(UInt64(4)) + [3, 1, 1, -1].flatMap { le(Int32($0)) }),
        ("tiny.scores", 9, le(UInt32(6)) + le(UInt64(2)) + floatBytes([-1.5, 2])),
        ("tiny.flags", 9, le(UInt32(7)) + le(UInt64(3)) + [1, 0, 1]),
        // An array of two arrays: [1, 2] (u32) and ["x"].
        (
            "tiny.nested", 9,
            le(UInt32(9)) + le(UInt64(2)) + le(UInt32(4)) + le(UInt64(2)) + le(UInt32(1)) + le(UInt32(2))
                + le(UInt32(8)) + le(UInt64(1)) + gstr("x")
        ),
    ]
    var tensors: [TensorRecord] = [
        TensorRecord(name: "weight", dims: [3, 2], type: 0, offset: 0),  // f32 [2, 3]
        TensorRecord(name: "quant", dims: [32, 2], type: 2, offset: 32),  // q4_0 [2, 32]: 36 bytes
        TensorRecord(name: "half", dims: [4], type: 1, offset: 96),  // f16 [4]
    ]
    var alignment = 32
    var dataSize = 104

    var offsets: [String: Int] = [:]

    mutating func build() -> ByteWriter {
        var w = ByteWriter()
        w.raw(magic)
        w.u32(version)
        offsets["tensor_count"] = w.offset
        w.u64(UInt64(tensors.count))
        offsets["kv_count"] = w.offset
        w.u64(UInt64(metadata.count))
        for (key, type, value) in metadata {
            offsets[key] = w.offset
            w.raw(gstr(key))
            offsets[key + ".value"] = w.offset
            w.u32(type)
            w.raw(value)
        }
        for t in tensors {
            offsets[t.name] = w.offset
            w.raw(gstr(t.name))
            offsets[t.name + ".dims"] = w.offset
            w.u32(UInt32(t.dims.count))
            for d in t.dims { w.u64(d) }
            offsets[t.name + ".type"] = w.offset
            w.u32(t.type)
            offsets[t.name + ".offset"] = w.offset
            w.u64(t.offset)
        }
        w.pad(to: alignment)
        offsets["data"] = w.offset
        // weight: 1…6; quant: two blocks (f16 scale 1.0, nibbles); half: 1, 2, 3, 4.
        w.floats([1, 2, 3, 4, 5, 6])
        w.pad(to: 32)
        for _ in 0..<2 { w.raw([0x00, 0x3C] + Array(repeating: 0x98, count: 16)) }
        w.pad(to: 32)
        w.raw([0x00, 0x3C, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44])
        let end = offsets["data", default: 0] + dataSize
        while w.offset < end { w.u8(0) }
        w.bytes.removeSubrange(end...)
        return w
    }

    mutating func file() -> MappedFile { build().file("tiny.gguf") }

    mutating func error() -> ModelFileError? { modelFileError(file(), GGUFFile.init(file:)) }
}

@Suite("GGUF reader")
struct GGUFFileTests {
    @Test("reads the header, every metadata type and the tensor infos")
    func readsTinyFile() throws {
        var tiny = TinyGGUF()
        let gguf = try GGUFFile(file: tiny.file())
        #expect(gguf.version == 3)
        #expect(gguf.metadata.count == tiny.metadata.count)
        #expect(gguf.metadata.map(\.key) == tiny.metadata.map(\.key))
        #expect(gguf.alignment == 32)
        #expect(gguf.dataOffset == tiny.offsets["data"])
        #expect(gguf["general.architecture"]?.string == "llama")
        #expect(gguf["llama.block_count"]?.integer == 2)
        #expect(gguf["llama.rope.freq_base"]?.double == 10_000)
        #expect(gguf["tiny.i64"]?.integer == -5)
        #expect(gguf["tiny.f64"]?.double == 0.25)
        #expect(gguf["tiny.flag"]?.bool == true)
        #expect(gguf["tiny.u8"]?.integer == 200)
        #expect(gguf["tiny.i8"]?.integer == -1)
        #expect(gguf["tiny.u16"]?.integer == 65535)
        #expect(gguf["tiny.i16"]?.integer == -32768)
        #expect(gguf["tiny.i32"]?.integer == -7)
        #expect(gguf["tiny.u64"]?.integer == nil)  // does not fit in Int
        #expect(gguf["tiny.u64"]?.double == Double(UInt64.max))
        #expect(gguf["missing"] == nil)

        let tokens = try #require(gguf["tokenizer.ggml.tokens"]?.array)
        #expect(tokens.elementType == .string && tokens.count == 4)
        #expect(tokens.strings() == ["<s>", "a", "été", "🙂"])
        #expect(tokens[2].string == "été")
        #expect(tokens.integers() == nil)
        #expect(gguf["tokenizer.ggml.token_type"]?.array?.integers() == [3, 1, 1, -1])
        #expect(gguf["tiny.scores"]?.array?.floats() == [-1.5, 2])
        #expect(gguf["tiny.flags"]?.array?.map(\.bool) == [true, false, true])
        let nested = try #require(gguf["tiny.nested"]?.array)
        #expect(nested.elementType == .array && nested.count == 2)
        #expect(nested[0].array?.integers() == [1, 2])
        #expect(nested[1].array?.strings() == ["x"])
    }

    @Test("tensors: ggml dims, row-major shape, type, absolute offset, zero-copy data")
    func tensors() throws {
        var tiny = TinyGGUF()
        let gguf = try GGUFFile(file: tiny.file())
        let data = try #require(tiny.offsets["data"])
        #expect(gguf.tensors.map(\.name) == ["weight", "quant", "half"])
        let weight = try #require(gguf.tensorInfo(named: "weight"))
        #expect(weight.dimensions == [3, 2] && weight.shape == [2, 3])
        #expect(weight.dtype == .f32 && weight.ggmlType == 0)
        #expect(weight.offset == data && weight.byteCount == 24)
        let quant = try #require(gguf.tensorInfo(named: "quant"))
        #expect(quant.shape == [2, 32] && quant.dtype == .q4_0 && quant.offset == data + 32 && quant.byteCount == 36)
        let tensor = try #require(gguf.tensor(named: "weight"))
        #expect(tensor.shape == [2, 3] && tensor.floats() == [1, 2, 3, 4, 5, 6])
        #expect(tensor.storage.isReadOnly)  // a view of the file, not a copy
        #expect(gguf.tensor(named: "half")?.floats() == [1, 2, 3, 4])
        #expect(gguf.tensor(named: "nothing") == nil)
    }

    @Test("ggml type ids map to DType; others are unsupported, naming type and tensor")
    func ggmlTypes() {
        let expected: [UInt32: DType] = [
            0: .f32, 1: .f16, 2: .q4_0, 3: .q4_1, 6: .q5_0, 7: .q5_1, 8: .q8_0, 9: .q8_1, 10: .q2_K, 11: .q3_K,
            12: .q4_K, 13: .q5_K, 14: .q6_K, 15: .q8_K, 24: .i8, 25: .i16, 26: .i32, 27: .i64, 28: .f64, 30: .bf16,
        ]
        for id in UInt32(0)...40 { #expect(GGUFFile.dtype(ggmlType: id) == expected[id], "type \(id)") }

        var tiny = TinyGGUF()
        tiny.tensors[1].type = 20  // IQ4_NL
        let e = tiny.error()
        #expect(e?.kind == .unsupported && e?.offset == tiny.offsets["quant.type"])
        #expect(e?.message.contains("20") == true && e?.message.contains("quant") == true)
    }

    @Test("a custom general.alignment moves the data section")
    func customAlignment() throws {
        var tiny = TinyGGUF()
        tiny.metadata.append(("general.alignment", 4, le(UInt32(64))))
        tiny.alignment = 64
        tiny.tensors[1].offset = 64
        tiny.tensors[2].offset = 128
        tiny.dataSize = 136
        let gguf = try GGUFFile(file: tiny.file())
        #expect(gguf.alignment == 64)
        #expect(gguf.dataOffset % 64 == 0 && gguf.dataOffset == tiny.offsets["data"])
    }

    @Test("version 2 reads; version 1, big-endian and newer versions are unsupported")
    func versions() throws {
        var tiny = TinyGGUF()
        tiny.version = 2
        #expect(try GGUFFile(file: tiny.file()).version == 2)
        for (version, kind) in [
            (1, ModelFileError.Kind.unsupported), (0x0300_0000, .unsupported), (4, .unsupported),
            (0, .invalidField),
        ] {
            tiny.version = UInt32(version)
            let e = tiny.error()
            #expect(e?.kind == kind && e?.offset == 4, "version \(version)")
        }
    }

    @Test("bad magic is not this format; a short file is truncated")
    func magic() {
        var tiny = TinyGGUF()
        tiny.magic = Array("GGML".utf8)
        let e = tiny.error()
        #expect(e?.kind == .notThisFormat && e?.offset == 0 && e?.file == "tiny.gguf")
        let short = modelFileError(MappedFile(bytes: [0x47, 0x47], path: "short"), GGUFFile.init(file:))
        #expect(short?.kind == .truncated && short?.offset == 0)
        let empty = modelFileError(MappedFile(bytes: [], path: "empty"), GGUFFile.init(file:))
        #expect(empty?.kind == .truncated)
    }

    @Test("lying counts and lengths are caught at their offset before any allocation")
    func lyingCounts() throws {
        var tiny = TinyGGUF()
        let w = tiny.build()
        func patched(_ at: Int, _ value: UInt64) -> ModelFileError? {
            var bytes = w.bytes
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<(at + 8), with: $0) }
            return modelFileError(MappedFile(bytes: bytes, path: "lying.gguf"), GGUFFile.init(file:))
        }
        for lie in [UInt64.max, UInt64(Int.max), 1 << 40, 100_000] {
            let kv = try #require(tiny.offsets["kv_count"])
            #expect(patched(kv, lie)?.kind == .truncated && patched(kv, lie)?.offset == kv)
            let tc = try #require(tiny.offsets["tensor_count"])
            #expect(patched(tc, lie)?.offset == tc)
            // The length of a key.
            let key = try #require(tiny.offsets["llama.block_count"])
            #expect(patched(key, lie)?.kind == .truncated && patched(key, lie)?.offset == key)
            // The element count of the tokens array (after its u32 element type).
            let count = try #require(tiny.offsets["tokenizer.ggml.tokens.value"]) + 8
            #expect(patched(count, lie)?.kind == .truncated && patched(count, lie)?.offset == count)
            // The length of the first token.
            let token = count + 8
            #expect(patched(token, lie)?.kind == .truncated && patched(token, lie)?.offset == token)
            // A dimension that does not fit in Int, or makes the tensor larger than the file.
            let dim = try #require(tiny.offsets["weight.dims"]) + 4
            let e = patched(dim, lie)
            #expect(e != nil && (e?.offset ?? 0) >= dim - 4, "\(e?.description ?? "parsed")")
        }
    }

    @Test("invalid fields: value type, bool, UTF-8, duplicates, dims, alignment")
    func invalidFields() throws {
        var tiny = TinyGGUF()
        tiny.metadata[1].type = 13
        var e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["llama.block_count.value"])

        tiny = TinyGGUF()
        tiny.metadata[5].value = [2]  // a bool must be 0 or 1
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["tiny.flag.value"].map { $0 + 4 })

        tiny = TinyGGUF()
        tiny.metadata[0].value = le(UInt64(2)) + [0xC3, 0x28]  // not UTF-8
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["general.architecture.value"].map { $0 + 12 })

        tiny = TinyGGUF()
        tiny.metadata[12].value = le(UInt32(8)) + le(UInt64(2)) + gstr("ok") + le(UInt64(1)) + [0xFF]
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.message.contains("tokenizer.ggml.tokens[1]") == true)

        tiny = TinyGGUF()
        tiny.metadata[2].key = "general.architecture"
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["general.architecture"])

        tiny = TinyGGUF()
        tiny.tensors[2].name = "weight"
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["weight"])

        tiny = TinyGGUF()
        tiny.tensors[0].dims = [1, 1, 1, 1, 1]
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["weight.dims"])

        tiny = TinyGGUF()
        tiny.tensors[0].dims = [1 << 32, 1 << 32, 1 << 32]
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["weight.dims"])

        tiny = TinyGGUF()
        tiny.metadata.append(("general.alignment", 4, le(UInt32(24))))  // not a power of two
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["general.alignment.value"].map { $0 + 4 })

        tiny = TinyGGUF()
        tiny.metadata.append(("general.alignment", 10, le(UInt64(32))))  // not a u32
        #expect(tiny.error()?.kind == .invalidField)
    }

    @Test("tensor data: aligned offsets, whole blocks per row, inside the file")
    func tensorData() throws {
        var tiny = TinyGGUF()
        tiny.tensors[1].offset = 40
        var e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["quant.offset"])

        tiny = TinyGGUF()
        tiny.tensors[1].dims = [16, 4]  // 64 elements, but rows of 16 are half a q4_0 block
        e = tiny.error()
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["quant.dims"])
        #expect(e?.message.contains("block") == true)

        tiny = TinyGGUF()
        tiny.tensors[2].offset = 1 << 20
        e = tiny.error()
        #expect(e?.kind == .truncated && e?.message.contains("half") == true)

        tiny = TinyGGUF()
        tiny.tensors[2].offset = UInt64.max - 31
        e = tiny.error()
        #expect(e?.kind == .invalidField)

        tiny = TinyGGUF()
        tiny.dataSize = 100  // the last tensor ends at 104
        e = tiny.error()
        #expect(e?.kind == .truncated && e?.offset == tiny.offsets["data"].map { $0 + 96 })
    }

    @Test("nested arrays deeper than the limit are unsupported, not a stack overflow")
    func deepArrays() {
        var tiny = TinyGGUF()
        // 10,000 arrays, each holding the next, the innermost an empty array of u32.
        let nested = (0..<10_000).flatMap { _ in le(UInt32(9)) + le(UInt64(1)) } + le(UInt32(4)) + le(UInt64(0))
        tiny.metadata = [("deep", 9, nested)]
        tiny.tensors = []
        let e = tiny.error()
        #expect(e?.kind == .unsupported)
    }

    @Test("a file without tensors needs no data section")
    func noTensors() throws {
        var tiny = TinyGGUF()
        tiny.tensors = []
        var w = tiny.build()
        w.bytes.removeSubrange(tiny.offsets["data", default: 0]...)
        let gguf = try GGUFFile(file: w.file("meta-only.gguf"))
        #expect(gguf.tensors.isEmpty && gguf.metadata.count == tiny.metadata.count)
    }

    @Test("every truncation throws .truncated at or before the cut")
    func everyTruncation() {
        var tiny = TinyGGUF()
        let file = tiny.file()
        for cut in 0..<file.bytes.count {
            let e = modelFileError(file.prefix(cut), GGUFFile.init(file:))
            #expect(e?.kind == .truncated, "cut at \(cut): \(e?.description ?? "parsed")")
            #expect((e?.offset ?? .max) <= cut, "cut at \(cut)")
        }
    }

    @Test("every single-bit flip of the header, metadata and infos throws or stays in bounds")
    func everyBitFlip() throws {
        var tiny = TinyGGUF()
        let bytes = tiny.build().bytes
        let structure = try #require(tiny.offsets["data"])
        for bit in 0..<(structure * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let file = MappedFile(bytes: flipped, path: "flipped.gguf")
            guard let gguf = try? GGUFFile(file: file) else { continue }
            for info in gguf.tensors {
                #expect(info.offset % gguf.alignment == 0 && info.offset + info.byteCount <= file.bytes.count)
                #expect(gguf.tensor(info).byteCount == info.byteCount)
            }
            for (_, value) in gguf.metadata { _ = value.array?.map(\.description) }
        }
    }
}
