import Foundation
import ModelStore
import Testing

@Suite("Resolving what a user typed: nothing, a catalog name or a path")
struct ResolveTests {
    let data: TemporaryDirectory
    let store: ModelStore

    init() throws {
        data = try TemporaryDirectory()
        store = try ModelStore(catalogs: TestCatalogs.all, dataDirectory: data.url)
        for (kind, catalog) in zip(ModelKind.allCases, TestCatalogs.all) {
            for entry in catalog.models { try TestCatalogs.install(entry, kind: kind, in: store) }
        }
    }

    @Test("nothing means the default of the kind")
    func nothing() throws {
        defer { data.remove() }
        #expect(try store.resolve(nil, kind: .voice).name == "tiny-voice")
        #expect(try store.resolve(nil, kind: .stt).name == "tiny-stt")
    }

    @Test("a catalog name of the kind")
    func catalogName() throws {
        defer { data.remove() }
        let voice = try store.resolve("other-voice", kind: .voice)
        #expect(voice.entry?.name == "other-voice")
        #expect(voice.location.lastPathComponent == "other-voice.onnx")
    }

    @Test("a user's own Piper voice: the .onnx file, or a folder holding one")
    func ownVoice() throws {
        defer { data.remove() }
        let onnx = try data.write("x", to: "mine/en_GB-me-low.onnx")
        try data.write("{}", to: "mine/en_GB-me-low.onnx.json")
        for given in [onnx.path, onnx.deletingLastPathComponent().path] {
            let voice = try store.resolve(given, kind: .voice)
            #expect(voice.entry == nil)
            #expect(voice.name == "en_GB-me-low")
            #expect(voice.location.path == onnx.path)
            #expect(voice.files.map(\.lastPathComponent) == ["en_GB-me-low.onnx", "en_GB-me-low.onnx.json"])
        }
    }

    @Test("a voice without its .onnx.json, or a folder of several voices, is refused with the reason")
    func unusableVoice() throws {
        defer { data.remove() }
        let onnx = try data.write("x", to: "mine/a.onnx")
        var error = #expect(throws: ModelStoreError.self) { try store.resolve(onnx.path, kind: .voice) }
        #expect(error?.code == .unusablePath)
        #expect(error?.message.contains("a.onnx.json is missing") == true)

        try data.write("x", to: "mine/b.onnx")
        error = #expect(throws: ModelStoreError.self) {
            try store.resolve(onnx.deletingLastPathComponent().path, kind: .voice)
        }
        #expect(error?.code == .unusablePath)
        #expect(error?.message.contains("found 2") == true)

        let text = try data.write("x", to: "mine/notes.txt")
        error = #expect(throws: ModelStoreError.self) { try store.resolve(text.path, kind: .voice) }
        #expect(error?.code == .unusablePath)
    }

    @Test("a user's own CTranslate2 folder, or its model.bin")
    func ownWhisper() throws {
        defer { data.remove() }
        let modelBin = try data.write("x", to: "ct2/model.bin")
        try data.write("{}", to: "ct2/config.json")
        try data.write("", to: "ct2/.hidden")
        let folder = modelBin.deletingLastPathComponent()
        for given in [folder.path, modelBin.path] {
            let stt = try store.resolve(given, kind: .stt)
            #expect(stt.location.path == folder.path)
            #expect(stt.name == "ct2")
            #expect(stt.files.map(\.lastPathComponent) == ["config.json", "model.bin"])
        }
        try FileManager.default.removeItem(at: modelBin)
        let error = #expect(throws: ModelStoreError.self) { try store.resolve(folder.path, kind: .stt) }
        #expect(error?.code == .unusablePath)
    }

    @Test("a user's own GGUF file")
    func ownLanguageModel() throws {
        defer { data.remove() }
        let gguf = try data.write("x", to: "llm/Qwen.Q8_0.gguf")
        let llm = try store.resolve(gguf.path, kind: .llm)
        #expect(llm.location.path == gguf.path)
        #expect(llm.name == "Qwen.Q8_0")
        #expect(try store.resolve(gguf.deletingLastPathComponent().path, kind: .llm).location.path == gguf.path)
    }

    @Test("a path that does not exist, and a name that is neither in the catalog nor on disk")
    func nothingThere() throws {
        defer { data.remove() }
        var error = #expect(throws: ModelStoreError.self) { try store.resolve("/no/such/voice.onnx", kind: .voice) }
        #expect(error?.code == .pathNotFound)
        #expect(error?.message == "no such model file or folder: /no/such/voice.onnx")

        error = #expect(throws: ModelStoreError.self) { try store.resolve("tiny-stt", kind: .voice) }
        #expect(error?.code == .unknownModel)
        #expect(error?.message.contains("known: tiny-voice, other-voice") == true)
    }

    @Test("a catalog name that is not installed says what to run")
    func catalogNameNotInstalled() throws {
        defer { data.remove() }
        try FileManager.default.removeItem(at: data.url.appending(path: "stt"))
        let error = #expect(throws: ModelStoreError.self) { try store.resolve(nil, kind: .stt) }
        #expect(error?.code == .notInstalled)
        #expect(error?.message.hasSuffix("run scripts/fetch-models tiny-stt") == true)
    }
}
