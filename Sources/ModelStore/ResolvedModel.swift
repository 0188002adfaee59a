import Foundation

/// A model found on disk and ready to load: a catalog model installed in the data directory, or a user's own file
/// or folder.
public struct ResolvedModel: Sendable, Equatable {
    /// The model's kind.
    public var kind: ModelKind
    /// The catalog name, or for a user's own model the file or folder name without its extension.
    public var name: String
    /// The folder holding the model's files.
    public var directory: URL
    /// What a loader opens: the Piper `.onnx` file, the CTranslate2 folder, or the `.gguf` file.
    public var location: URL
    /// Every file of the model: the catalog's files in catalog order, or those found for a user's own model.
    public var files: [URL]
    /// The catalog entry; `nil` for a user's own model.
    public var entry: ModelEntry?

    public init(
        kind: ModelKind, name: String, directory: URL, location: URL, files: [URL], entry: ModelEntry? = nil
    ) {
        self.kind = kind
        self.name = name
        self.directory = directory
        self.location = location
        self.files = files
        self.entry = entry
    }

    /// The URL of a file of the model, by its path inside the model's folder (`config.json`).
    public func file(_ path: String) -> URL {
        directory.appending(path: path, directoryHint: .notDirectory)
    }
}
