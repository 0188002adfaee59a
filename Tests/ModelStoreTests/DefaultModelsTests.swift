import Foundation
import ModelStore
import Testing

/// The real default models, installed by `scripts/setup` (which runs `scripts/fetch-models`) into `$HARK_DATA`.
/// A missing model fails these tests: the suite needs them, and skipping would hide a broken setup.
@Suite("The default models on this machine")
struct DefaultModelsTests {
    @Test("each default model is installed and every file matches its catalog sha256", arguments: ModelKind.allCases)
    func verified(kind: ModelKind) throws {
        let store = try ModelStore()
        let entry = try store.defaultEntry(kind)
        do {
            let model = try store.verify(entry, kind: kind)
            #expect(model.files.count == entry.files.count)
            #expect(model.directory.path == store.directory(for: entry, kind: kind).path)
        } catch {
            Issue.record("\(error.message) (scripts/setup fetches the default models)")
        }
    }

    @Test("resolving no name gives the default model, opened the way its loader needs")
    func resolvedDefaults() throws {
        let store = try ModelStore()
        do {
            #expect(try store.resolve(nil, kind: .voice).location.lastPathComponent == "en_US-joe-medium.onnx")
            let stt = try store.resolve(nil, kind: .stt)
            #expect(stt.location == stt.directory)
            #expect(try store.resolve(nil, kind: .llm).location.pathExtension == "gguf")
        } catch {
            Issue.record("\(error.message) (scripts/setup fetches the default models)")
        }
    }
}
