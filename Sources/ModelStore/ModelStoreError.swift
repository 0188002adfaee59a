import Foundation

/// Everything that can go wrong finding, resolving or verifying a model. `description` is the message for people:
/// it names the model and the path, and says what to run to fix it.
public struct ModelStoreError: Error, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// No folder holding `voices/catalog.json` was found.
        case catalogNotFound
        /// A catalog file is unreadable, malformed or breaks a catalog rule.
        case invalidCatalog
        /// No catalog has a model of that name (and, where a path is accepted, no such file exists).
        case unknownModel
        /// The catalog of a kind marks no model as its default.
        case noDefaultModel
        /// The model's folder does not exist in the data directory.
        case notInstalled
        /// The model's folder exists but one of its files does not.
        case fileMissing
        /// A file's size differs from the catalog's.
        case wrongSize
        /// A file's sha256 differs from the catalog's.
        case checksumMismatch
        /// A user's own model path does not exist.
        case pathNotFound
        /// A user's own model path exists but is not a model of the kind asked for.
        case unusablePath
        /// A file could not be read while hashing it.
        case unreadableFile
    }

    /// What went wrong.
    public var code: Code
    /// The message for people.
    public var message: String
    /// The file or folder concerned, when there is one.
    public var path: String?
    /// The error underneath, when there is one.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, path: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    public var description: String { message }
}

extension ModelStoreError {
    static func catalogNotFound(searched: [String]) -> ModelStoreError {
        ModelStoreError(
            .catalogNotFound,
            "no model catalogs found (looked for voices/catalog.json \(searched.joined(separator: ", "))): "
                + "set HARK_CATALOG_DIR to the folder holding voices/ and Resources/models/")
    }

    static func invalidCatalog(_ url: URL? = nil, reason: String, cause: (any Error)? = nil) -> ModelStoreError {
        let subject = url.map { "catalog \($0.path)" } ?? "catalog"
        return ModelStoreError(.invalidCatalog, "\(subject): \(reason)", path: url?.path, cause: cause)
    }

    static func unknownModel(_ name: String, kind: ModelKind?, known: [String]) -> ModelStoreError {
        let what =
            kind.map { "no \($0) model named '\(name)' in the catalog" } ?? "no model named '\(name)' in the catalogs"
        let extra = kind == nil ? "" : " and no such file or folder"
        return ModelStoreError(.unknownModel, "\(what)\(extra) (known: \(known.joined(separator: ", ")))")
    }

    static func noDefaultModel(_ kind: ModelKind) -> ModelStoreError {
        ModelStoreError(.noDefaultModel, "the \(kind) catalog marks no model as its default")
    }

    static func notInstalled(_ name: String, dataDirectory: URL, folder: URL) -> ModelStoreError {
        ModelStoreError(
            .notInstalled,
            "model '\(name)' is not installed in \(dataDirectory.path): run scripts/fetch-models \(name)",
            path: folder.path)
    }

    static func fileMissing(_ name: String, file: URL) -> ModelStoreError {
        ModelStoreError(
            .fileMissing,
            "model '\(name)' is incomplete: \(file.path) is missing: run scripts/fetch-models \(name)",
            path: file.path)
    }

    static func wrongSize(_ name: String, file: URL, size: Int, expected: Int) -> ModelStoreError {
        ModelStoreError(
            .wrongSize,
            "model '\(name)' is damaged: \(file.path) is \(size) bytes, the catalog says \(expected): "
                + "run scripts/fetch-models --verify \(name)",
            path: file.path)
    }

    static func checksumMismatch(_ name: String, file: URL, sha256: String, expected: String) -> ModelStoreError {
        ModelStoreError(
            .checksumMismatch,
            "model '\(name)' is damaged: \(file.path) has sha256 \(sha256), the catalog says \(expected): "
                + "run scripts/fetch-models --verify \(name)",
            path: file.path)
    }

    static func pathNotFound(_ path: String) -> ModelStoreError {
        ModelStoreError(.pathNotFound, "no such model file or folder: \(path)", path: path)
    }

    static func unusablePath(_ url: URL, kind: ModelKind, reason: String) -> ModelStoreError {
        ModelStoreError(.unusablePath, "\(url.path) is not a usable \(kind) model: \(reason)", path: url.path)
    }

    static func unreadableFile(_ url: URL, cause: any Error) -> ModelStoreError {
        ModelStoreError(.unreadableFile, "cannot read \(url.path): \(cause)", path: url.path, cause: cause)
    }
}
