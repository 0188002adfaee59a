import Foundation
import ModelStore
import Testing

@Suite("Installed models: presence, sizes and checksums")
struct InstalledModelTests {
    let data: TemporaryDirectory
    let store: ModelStore

    init() throws {
        data = try TemporaryDirectory()
        store = try ModelStore(catalogs: TestCatalogs.all, dataDirectory: data.url)
    }

    private func install(_ name: String) throws -> (ModelKind, ModelEntry) {
        let found = try store.entry(named: name)
        try TestCatalogs.install(found.entry, kind: found.kind, in: store)
        return (found.kind, found.entry)
    }

    @Test("an installed model resolves to its folder, its files and what a loader opens")
    func installed() throws {
        defer { data.remove() }
        for name in ["tiny-voice", "tiny-stt", "tiny-llm"] { _ = try install(name) }

        let voice = try store.installedModel(named: "tiny-voice")
        #expect(voice.kind == .voice)
        #expect(voice.directory.path == data.url.appending(path: "voices/tiny-voice").path)
        #expect(voice.location.lastPathComponent == "tiny-voice.onnx")
        #expect(voice.files.map(\.lastPathComponent) == ["tiny-voice.onnx", "tiny-voice.onnx.json"])
        #expect(voice.file("tiny-voice.onnx.json") == voice.files[1])
        #expect(voice.entry?.name == "tiny-voice")

        let stt = try store.defaultModel(.stt)
        #expect(stt.directory.path == data.url.appending(path: "stt/tiny-stt").path)
        #expect(stt.location == stt.directory)

        let llm = try store.defaultModel(.llm)
        #expect(llm.location.path == data.url.appending(path: "llm/tiny-llm/tiny.gguf").path)

        for (kind, entry) in [(ModelKind.voice, "tiny-voice"), (.stt, "tiny-stt"), (.llm, "tiny-llm")] {
            #expect(try store.verify(named: entry, kind: kind).name == entry)
        }
    }

    @Test("a model that was never fetched: not installed, with the data directory and the command to run")
    func notInstalled() throws {
        defer { data.remove() }
        let error = #expect(throws: ModelStoreError.self) { try store.installedModel(named: "tiny-stt") }
        #expect(error?.code == .notInstalled)
        #expect(
            error?.message
                == "model 'tiny-stt' is not installed in \(data.url.path): run scripts/fetch-models tiny-stt")
        let entry = try store.entry(named: "tiny-stt").entry
        guard case .notInstalled = store.state(of: entry, kind: .stt) else {
            Issue.record("state should be .notInstalled")
            return
        }
    }

    @Test("a missing file makes the model incomplete")
    func missingFile() throws {
        defer { data.remove() }
        let (kind, entry) = try install("tiny-voice")
        let config = store.directory(for: entry, kind: kind).appending(path: "tiny-voice.onnx.json")
        try FileManager.default.removeItem(at: config)
        let error = #expect(throws: ModelStoreError.self) { try store.installedModel(named: "tiny-voice") }
        #expect(error?.code == .fileMissing)
        #expect(error?.path == config.path)
        #expect(error?.message.contains("run scripts/fetch-models tiny-voice") == true)
        guard case .damaged(let damage) = store.state(of: entry, kind: kind) else {
            Issue.record("state should be .damaged")
            return
        }
        #expect(damage.code == .fileMissing)
    }

    @Test("a folder where a file should be counts as missing")
    func folderInsteadOfFile() throws {
        defer { data.remove() }
        let (kind, entry) = try install("tiny-llm")
        let gguf = store.directory(for: entry, kind: kind).appending(path: "tiny.gguf")
        try FileManager.default.removeItem(at: gguf)
        try FileManager.default.createDirectory(at: gguf, withIntermediateDirectories: false)
        let error = #expect(throws: ModelStoreError.self) { try store.defaultModel(.llm) }
        #expect(error?.code == .fileMissing)
    }

    @Test("a file of the wrong size is found without hashing")
    func wrongSize() throws {
        defer { data.remove() }
        let (kind, entry) = try install("tiny-stt")
        let config = store.directory(for: entry, kind: kind).appending(path: "config.json")
        try Data("abcd".utf8).write(to: config)
        let error = #expect(throws: ModelStoreError.self) { try store.installedModel(named: "tiny-stt") }
        #expect(error?.code == .wrongSize)
        #expect(error?.message.contains("is 4 bytes, the catalog says 3") == true)
        #expect(error?.message.contains("scripts/fetch-models --verify tiny-stt") == true)
    }

    @Test("verify finds a file of the right size with the wrong contents")
    func wrongChecksum() throws {
        defer { data.remove() }
        let (kind, entry) = try install("tiny-stt")
        let modelBin = store.directory(for: entry, kind: kind).appending(path: "model.bin")
        let handle = try FileHandle(forWritingTo: modelBin)
        try handle.seek(toOffset: 999_999)
        try handle.write(contentsOf: Data("b".utf8))
        try handle.close()

        #expect(throws: Never.self) { try store.installedModel(named: "tiny-stt") }
        let error = #expect(throws: ModelStoreError.self) { try store.verify(named: "tiny-stt") }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.path == modelBin.path)
        #expect(error?.message.contains("the catalog says \(Vector.millionA.sha256)") == true)
    }

    @Test("a symbolic link to a good file is accepted")
    func symbolicLink() throws {
        defer { data.remove() }
        let (kind, entry) = try install("tiny-llm")
        let gguf = store.directory(for: entry, kind: kind).appending(path: "tiny.gguf")
        let elsewhere = data.url.appending(path: "elsewhere.gguf")
        try FileManager.default.moveItem(at: gguf, to: elsewhere)
        try FileManager.default.createSymbolicLink(at: gguf, withDestinationURL: elsewhere)
        #expect(try store.verify(named: "tiny-llm").location == gguf)
    }

    @Test("an unknown name lists the names there are")
    func unknownName() throws {
        defer { data.remove() }
        let error = #expect(throws: ModelStoreError.self) { try store.installedModel(named: "nope") }
        #expect(error?.code == .unknownModel)
        #expect(error?.message.contains("tiny-voice, other-voice, tiny-stt, tiny-llm") == true)
        let wrongKind = #expect(throws: ModelStoreError.self) {
            try store.installedModel(named: "tiny-voice", kind: .llm)
        }
        #expect(wrongKind?.code == .unknownModel)
    }
}
