import Foundation
import ModelStore

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appending(path: "hark-model-store-tests-\(UUID().uuidString)", directoryHint: .isDirectory)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `contents` at `path` (relative), creating folders on the way; returns the file's URL.
    @discardableResult
    func write(_ contents: String, to path: String) throws -> URL {
        let file = url.appending(path: path, directoryHint: .notDirectory)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: file)
        return file
    }
}

/// Small files with published SHA-256 test vectors (FIPS 180-2 examples), so no test computes the digest it checks.
enum Vector {
    static let abc = (contents: "abc", sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    static let empty = (contents: "", sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    static let twoBlocks = (
        contents: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        sha256: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    )
    /// One million times "a".
    static let millionA = (
        contents: String(repeating: "a", count: 1_000_000),
        sha256: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    )
}

/// A small catalog of each kind over the test vectors, so models can be "installed" by writing a few bytes.
enum TestCatalogs {
    static let digest = String(repeating: "0", count: 64)

    static func file(_ path: String, _ vector: (contents: String, sha256: String)) -> ModelFile {
        ModelFile(path: path, member: "pkg/\(path)", size: vector.contents.utf8.count, sha256: vector.sha256)
    }

    static func entry(_ name: String, isDefault: Bool = false, files: [ModelFile]) -> ModelEntry {
        ModelEntry(
            name: name, isDefault: isDefault, summary: "test model \(name)",
            source: WheelSource(name: "pkg", version: "1.0", wheelFilename: "pkg-1.0-py3-none-any.whl", sha256: digest),
            files: files)
    }

    static let voice = ModelCatalog(
        kind: .voice,
        models: [
            entry(
                "tiny-voice", isDefault: true,
                files: [file("tiny-voice.onnx", Vector.abc), file("tiny-voice.onnx.json", Vector.twoBlocks)]),
            entry("other-voice", files: [file("other-voice.onnx", Vector.empty)]),
        ])
    static let stt = ModelCatalog(
        kind: .stt,
        models: [
            entry(
                "tiny-stt", isDefault: true,
                files: [file("model.bin", Vector.millionA), file("config.json", Vector.abc)])
        ])
    static let llm = ModelCatalog(
        kind: .llm, models: [entry("tiny-llm", isDefault: true, files: [file("tiny.gguf", Vector.twoBlocks)])])

    static let vad = ModelCatalog(
        kind: .vad, models: [entry("tiny-vad", isDefault: true, files: [file("tiny-vad.onnx", Vector.abc)])])

    static let all = [voice, stt, llm, vad]

    /// Writes every file of `entry` with its vector's contents into the store's folder for it.
    static func install(_ entry: ModelEntry, kind: ModelKind, in store: ModelStore) throws {
        let folder = store.directory(for: entry, kind: kind)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in entry.files {
            let contents =
                [Vector.abc, Vector.empty, Vector.twoBlocks, Vector.millionA]
                .first { $0.sha256 == file.sha256 }?.contents ?? ""
            try Data(contents.utf8).write(to: folder.appending(path: file.path, directoryHint: .notDirectory))
        }
    }
}
