import Testing

@testable import Tensors

/// A tiny model.bin built field by field (layout: research/whisper.md §3.1).
struct TinyModelBin {
    struct Variable {
        var name: String
        var shape: [UInt32]
        var typeID: UInt8
        var data: [UInt8]
    }

    var version: UInt32 = 6
    var spec = "TestSpec"
    var revision: UInt32 = 2
    var variables: [Variable] = [
        Variable(name: "config/flag", shape: [], typeID: 1, data: [1]),
        Variable(name: "config/heads", shape: [], typeID: 2, data: [6, 0]),
        Variable(name: "layer/bias", shape: [4], typeID: 4, data: [0x00, 0x3C, 0x00, 0x40, 0x00, 0xC2, 0x00, 0x00]),
        Variable(name: "layer/scale", shape: [], typeID: 0, data: floatBytes([0.5])),
        Variable(name: "layer/weight", shape: [2, 3], typeID: 0, data: floatBytes([1, 2, 3, 4, 5, 6])),
    ]
    var aliases: [(String, String)] = [("head/weight", "layer/weight")]

    /// Offsets of interesting fields, filled in by `build()`.
    var offsets: [String: Int] = [:]

    static func str(_ w: inout ByteWriter, _ s: String) {
        w.u16(UInt16(s.utf8.count + 1))
        w.raw(s)
        w.u8(0)
    }

    mutating func build() -> ByteWriter {
        var w = ByteWriter()
        w.u32(version)
        if version >= 2 {
            TinyModelBin.str(&w, spec)
            w.u32(revision)
        }
        offsets["count"] = w.offset
        w.u32(UInt32(variables.count))
        for v in variables {
            offsets[v.name] = w.offset
            TinyModelBin.str(&w, v.name)
            w.u8(UInt8(v.shape.count))
            for d in v.shape { w.u32(d) }
            offsets[v.name + ".type"] = w.offset
            if version >= 4 {
                w.u8(v.typeID)
                w.u32(UInt32(v.data.count))
            } else {
                let itemSize: UInt8 = v.typeID == 0 ? 4 : v.typeID == 2 ? 2 : 1
                w.u8(itemSize)
                w.u32(UInt32(v.data.count / Int(itemSize)))
            }
            offsets[v.name + ".data"] = w.offset
            w.raw(v.data)
        }
        if version >= 3 {
            offsets["aliases"] = w.offset
            w.u32(UInt32(aliases.count))
            for (a, t) in aliases {
                TinyModelBin.str(&w, a)
                TinyModelBin.str(&w, t)
            }
        }
        return w
    }

    mutating func file() -> MappedFile { build().file("tiny/model.bin") }
}

@Suite("CTranslate2 model.bin reader")
struct CTranslate2ModelTests {
    @Test("reads header, variables, types, scalars and aliases")
    func readsTinyModel() throws {
        var tiny = TinyModelBin()
        let model = try CTranslate2Model(file: tiny.file())
        #expect(model.binaryVersion == 6)
        #expect(model.specName == "TestSpec")
        #expect(model.specRevision == 2)
        #expect(
            model.variables.map(\.name) == ["config/flag", "config/heads", "layer/bias", "layer/scale", "layer/weight"])
        #expect(model.variables.map(\.dtype) == [.i8, .i16, .f16, .f32, .f32])
        #expect(model.aliases == [.init(name: "head/weight", target: "layer/weight")])
        #expect(model.integer(named: "config/flag") == 1)
        #expect(model.integer(named: "config/heads") == 6)
        #expect(model.scalar(named: "layer/scale") == 0.5)
        #expect(model.integer(named: "layer/scale") == nil)  // a float is not an integer
        #expect(model.scalar(named: "layer/weight") == nil)  // not rank 0
        #expect(model.scalar(named: "missing") == nil)

        let weight = try #require(model.tensor(named: "layer/weight"))
        #expect(weight.shape == [2, 3] && weight.floats() == [1, 2, 3, 4, 5, 6])
        #expect(model.tensor(named: "head/weight")?.floats() == [1, 2, 3, 4, 5, 6])
        #expect(model.variable(named: "head/weight")?.offset == tiny.offsets["layer/weight.data"])
        #expect(model.tensor(named: "layer/bias")?.floats() == [1, 2, -3, 0])
    }

    @Test(
        "all six CTranslate2 type ids",
        arguments: [
            (UInt8(0), DType.f32, 4), (1, .i8, 1), (2, .i16, 2), (3, .i32, 4), (4, .f16, 2), (5, .bf16, 2),
        ])
    func typeIDs(id: UInt8, dtype: DType, size: Int) throws {
        var tiny = TinyModelBin()
        tiny.variables = [.init(name: "v", shape: [3], typeID: id, data: Array(repeating: 0, count: 3 * size))]
        let model = try CTranslate2Model(file: tiny.file())
        #expect(model.variables.first?.dtype == dtype)
        #expect(model.tensor(named: "v")?.byteCount == 3 * size)
    }

    @Test("older binary versions: 1 (no spec), 2 (no aliases), 3 (item size and count)", arguments: [1, 2, 3, 4, 5])
    func olderVersions(version: UInt32) throws {
        var tiny = TinyModelBin()
        tiny.version = version
        if version < 4 { tiny.variables.removeAll { $0.typeID == 4 } }  // no float16 before v4
        let model = try CTranslate2Model(file: tiny.file())
        #expect(model.binaryVersion == Int(version))
        #expect(model.specName == (version >= 2 ? "TestSpec" : ""))
        #expect(model.specRevision == (version >= 2 ? 2 : 1))
        #expect(model.aliases.count == (version >= 3 ? 1 : 0))
        #expect(model.tensor(named: "layer/weight")?.floats() == [1, 2, 3, 4, 5, 6])
        #expect(model.integer(named: "config/heads") == 6)
    }

    @Test("a newer binary version is unsupported, version 0 is not a model.bin")
    func versions() {
        var tiny = TinyModelBin()
        tiny.version = 7
        let newer = modelFileError(tiny.file(), CTranslate2Model.init(file:))
        #expect(newer?.kind == .unsupported && newer?.offset == 0)
        #expect(newer?.file == "tiny/model.bin")
        tiny.version = 0
        let zero = modelFileError(tiny.file(), CTranslate2Model.init(file:))
        #expect(zero?.kind == .notThisFormat && zero?.offset == 0)
    }

    @Test("a payload whose size does not match its shape is rejected at the type field")
    func payloadSizeMismatch() {
        var tiny = TinyModelBin()
        tiny.variables[4].data.removeLast(4)
        let file = tiny.file()
        let error = modelFileError(file, CTranslate2Model.init(file:))
        #expect(error?.kind == .invalidField)
        #expect(error?.offset == tiny.offsets["layer/weight.type"])
        #expect(error?.message.contains("layer/weight") == true)
    }

    @Test("unknown type id, missing NUL, duplicate names")
    func invalidFields() throws {
        var tiny = TinyModelBin()
        tiny.variables[0].typeID = 9
        var e = modelFileError(tiny.file(), CTranslate2Model.init(file:))
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["config/flag.type"])

        tiny = TinyModelBin()
        var w = tiny.build()
        let nul = try #require(tiny.offsets["config/flag"]) + 2 + "config/flag".utf8.count
        w.bytes[nul] = UInt8(ascii: "x")
        e = modelFileError(w.file("x"), CTranslate2Model.init(file:))
        #expect(e?.kind == .invalidField && e?.offset == nul)

        tiny = TinyModelBin()
        tiny.variables[1].name = "config/flag"
        e = modelFileError(tiny.file(), CTranslate2Model.init(file:))
        #expect(e?.kind == .invalidField && e?.offset == tiny.offsets["config/flag"])  // the second record
        #expect(e?.message.contains("twice") == true)
    }

    @Test("a lying variable count is caught before allocating")
    func lyingCount() throws {
        var tiny = TinyModelBin()
        var w = tiny.build()
        let at = try #require(tiny.offsets["count"])
        w.bytes.replaceSubrange(at..<(at + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
        let e = modelFileError(w.file("x"), CTranslate2Model.init(file:))
        #expect(e?.kind == .truncated && e?.offset == at)
    }

    @Test("an alias to a missing variable is kept in the table but resolves to nothing")
    func danglingAlias() throws {
        var tiny = TinyModelBin()
        tiny.aliases = [("a", "nowhere"), ("b", "layer/bias"), ("c", "b")]
        let model = try CTranslate2Model(file: tiny.file())
        #expect(model.aliases.count == 3)
        #expect(model.variable(named: "a") == nil)
        #expect(model.variable(named: "b")?.name == "layer/bias")
        #expect(model.variable(named: "c")?.name == "layer/bias")  // aliases of earlier aliases resolve
    }

    @Test("every truncation throws .truncated at or before the cut")
    func everyTruncation() {
        var tiny = TinyModelBin()
        let file = tiny.file()
        for cut in 0..<file.bytes.count {
            let e = modelFileError(file.prefix(cut), CTranslate2Model.init(file:))
            #expect(e?.kind == .truncated, "cut at \(cut)")
            #expect((e?.offset ?? .max) <= cut, "cut at \(cut)")
        }
    }

    @Test("every single-bit flip throws or yields variables inside the file")
    func everyBitFlip() {
        var tiny = TinyModelBin()
        let bytes = tiny.build().bytes
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let file = MappedFile(bytes: flipped, path: "flipped")
            guard let model = try? CTranslate2Model(file: file) else { continue }
            for v in model.variables {
                #expect(v.offset + v.byteCount <= file.bytes.count)
                _ = v.tensor
                _ = model.scalar(named: v.name)
            }
        }
    }
}
