import Foundation

/// The models Hark knows by name (the catalogs) and the data directory they are installed in.
///
/// A catalog model `NAME` of kind `K` lives in `<dataDirectory>/<K.directoryName>/NAME/`, one file per catalog file.
/// `scripts/fetch-models` puts it there; this type finds it, checks it and says plainly what to run when it is
/// missing or damaged. Finding a model checks that every file is there with its catalog size; `verify` also
/// checks every sha256.
public struct ModelStore: Sendable {
    /// Where models are installed (`$HARK_DATA`, see `dataDirectory(environment:)`).
    public let dataDirectory: URL
    /// Where the catalogs were read from; `nil` when they were handed in.
    public let catalogDirectory: URL?
    /// One catalog per kind, in `ModelKind.allCases` order; a kind without a catalog has an empty one.
    public let catalogs: [ModelCatalog]

    /// A store over catalogs already in memory (tests, tools).
    ///
    /// - Throws: `ModelStoreError` with code `.invalidCatalog` when a catalog breaks a rule, two catalogs have the
    ///   same kind, or two models share a name.
    public init(catalogs: [ModelCatalog], dataDirectory: URL) throws(ModelStoreError) {
        try self.init(catalogs: catalogs, dataDirectory: dataDirectory, catalogDirectory: nil)
    }

    private init(
        catalogs: [ModelCatalog], dataDirectory: URL, catalogDirectory: URL?
    ) throws(ModelStoreError) {
        var byKind: [ModelKind: ModelCatalog] = [:]
        var names: Set<String> = []
        for catalog in catalogs {
            try catalog.validate()
            guard byKind.updateValue(catalog, forKey: catalog.kind) == nil else {
                throw .invalidCatalog(reason: "two \(catalog.kind) catalogs given")
            }
            for model in catalog.models where !names.insert(model.name).inserted {
                throw .invalidCatalog(reason: "model name '\(model.name)' is used by more than one catalog")
            }
        }
        self.catalogs = ModelKind.allCases.map { byKind[$0] ?? ModelCatalog(kind: $0, models: []) }
        self.dataDirectory = dataDirectory
        self.catalogDirectory = catalogDirectory
    }

    /// A store reading the three catalog files under `catalogDirectory` (see `ModelKind.catalogPath`).
    ///
    /// - Throws: `ModelStoreError` with code `.invalidCatalog` when a catalog file is missing or invalid.
    public init(catalogDirectory: URL, dataDirectory: URL) throws(ModelStoreError) {
        var catalogs: [ModelCatalog] = []
        for kind in ModelKind.allCases {
            let url = catalogDirectory.appending(path: kind.catalogPath, directoryHint: .notDirectory)
            let catalog = try ModelCatalog.load(from: url)
            guard catalog.kind == kind else {
                throw .invalidCatalog(url, reason: "says kind '\(catalog.kind)', expected '\(kind)'")
            }
            catalogs.append(catalog)
        }
        try self.init(catalogs: catalogs, dataDirectory: dataDirectory, catalogDirectory: catalogDirectory)
    }

    /// The store the executables use: the data directory and the catalogs found from the environment, the running
    /// executable and the current directory (see `dataDirectory(environment:)` and
    /// `locateCatalogDirectory(environment:executable:currentDirectory:)`).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ModelStoreError) {
        try self.init(
            catalogDirectory: ModelStore.locateCatalogDirectory(environment: environment),
            dataDirectory: ModelStore.dataDirectory(environment: environment))
    }

    // MARK: Catalog entries

    /// The catalog of one kind.
    public func catalog(_ kind: ModelKind) -> ModelCatalog {
        catalogs.first { $0.kind == kind } ?? ModelCatalog(kind: kind, models: [])
    }

    /// The catalog entries of one kind, in catalog order.
    public func entries(_ kind: ModelKind) -> [ModelEntry] {
        catalog(kind).models
    }

    /// The entry marked default in the catalog of `kind`.
    ///
    /// - Throws: `ModelStoreError` with code `.noDefaultModel`.
    public func defaultEntry(_ kind: ModelKind) throws(ModelStoreError) -> ModelEntry {
        guard let entry = entries(kind).first(where: \.isDefault) else { throw .noDefaultModel(kind) }
        return entry
    }

    /// The entry named `name`, in the catalog of `kind` or, when `kind` is `nil`, in any catalog.
    ///
    /// - Throws: `ModelStoreError` with code `.unknownModel`, listing the names there are.
    public func entry(
        named name: String, kind: ModelKind? = nil
    ) throws(ModelStoreError) -> (kind: ModelKind, entry: ModelEntry) {
        let searched = catalogs.filter { kind == nil || $0.kind == kind }
        for catalog in searched {
            if let entry = catalog.models.first(where: { $0.name == name }) { return (catalog.kind, entry) }
        }
        throw .unknownModel(name, kind: kind, known: searched.flatMap { $0.models.map(\.name) })
    }

    // MARK: Installed models

    /// The folder a catalog model is (or would be) installed in: `<dataDirectory>/<kind folder>/<name>`.
    public func directory(for entry: ModelEntry, kind: ModelKind) -> URL {
        dataDirectory
            .appending(path: kind.directoryName, directoryHint: .isDirectory)
            .appending(path: entry.name, directoryHint: .isDirectory)
    }

    /// The installed model of a catalog entry, after checking that each file is there with its catalog size.
    ///
    /// - Throws: `ModelStoreError` with code `.notInstalled`, `.fileMissing` or `.wrongSize`.
    public func installedModel(_ entry: ModelEntry, kind: ModelKind) throws(ModelStoreError) -> ResolvedModel {
        let folder = directory(for: entry, kind: kind)
        guard FileSystem.isDirectory(folder) else {
            throw .notInstalled(entry.name, dataDirectory: dataDirectory, folder: folder)
        }
        var urls: [URL] = []
        for file in entry.files {
            let url = folder.appending(path: file.path, directoryHint: .notDirectory)
            guard let size = FileSystem.regularFileSize(url) else { throw .fileMissing(entry.name, file: url) }
            guard size == file.size else {
                throw .wrongSize(entry.name, file: url, size: size, expected: file.size)
            }
            urls.append(url)
        }
        var location = folder
        if !kind.loadsFolder, let primary = entry.files.firstIndex(where: { kind.isPrimaryFile($0.path) }) {
            location = urls[primary]
        }
        return ResolvedModel(
            kind: kind, name: entry.name, directory: folder, location: location, files: urls, entry: entry)
    }

    /// The installed catalog model named `name` (see `installedModel(_:kind:)`).
    ///
    /// - Throws: `ModelStoreError` with code `.unknownModel`, `.notInstalled`, `.fileMissing` or `.wrongSize`.
    public func installedModel(named name: String, kind: ModelKind? = nil) throws(ModelStoreError) -> ResolvedModel {
        let found = try entry(named: name, kind: kind)
        return try installedModel(found.entry, kind: found.kind)
    }

    /// The installed default model of `kind`.
    ///
    /// - Throws: `ModelStoreError` with code `.noDefaultModel`, `.notInstalled`, `.fileMissing` or `.wrongSize`.
    public func defaultModel(_ kind: ModelKind) throws(ModelStoreError) -> ResolvedModel {
        try installedModel(defaultEntry(kind), kind: kind)
    }

    /// What a user typed for a model of `kind`: nothing (the default), a catalog name, or a path to their own model
    /// (a Piper `.onnx` file or a folder holding one; a CTranslate2 folder or its `model.bin`; a `.gguf` file or a
    /// folder holding one). A catalog name wins over a file of the same name in the current directory.
    ///
    /// - Throws: `ModelStoreError`: `.unknownModel` for a name that is neither in the catalog nor on disk,
    ///   `.pathNotFound` for a path that does not exist, `.unusablePath` for one that is no model of `kind`, and the
    ///   errors of `installedModel(_:kind:)` for a catalog model.
    public func resolve(_ nameOrPath: String?, kind: ModelKind) throws(ModelStoreError) -> ResolvedModel {
        guard let nameOrPath else { return try defaultModel(kind) }
        if let entry = entries(kind).first(where: { $0.name == nameOrPath }) {
            return try installedModel(entry, kind: kind)
        }
        if FileSystem.exists(URL(fileURLWithPath: nameOrPath)) {
            return try ModelStore.userModel(at: URL(fileURLWithPath: nameOrPath), kind: kind)
        }
        if nameOrPath.contains("/") { throw .pathNotFound(nameOrPath) }
        throw .unknownModel(nameOrPath, kind: kind, known: entries(kind).map(\.name))
    }

    /// Whether a catalog model is installed, without throwing: for listings.
    public func state(of entry: ModelEntry, kind: ModelKind) -> InstallState {
        do {
            _ = try installedModel(entry, kind: kind)
            return .installed
        } catch {
            return error.code == .notInstalled ? .notInstalled : .damaged(error)
        }
    }

    // MARK: Verification

    /// Checks every file of an installed catalog model against its catalog size and sha256.
    ///
    /// - Throws: `ModelStoreError`: the errors of `installedModel(_:kind:)`, then `.checksumMismatch` for the first
    ///   file whose contents differ, or `.unreadableFile`.
    @discardableResult
    public func verify(_ entry: ModelEntry, kind: ModelKind) throws(ModelStoreError) -> ResolvedModel {
        let model = try installedModel(entry, kind: kind)
        for (file, url) in zip(entry.files, model.files) {
            let digest = try FileDigest.sha256(of: url)
            guard digest == file.sha256 else {
                throw .checksumMismatch(entry.name, file: url, sha256: digest, expected: file.sha256)
            }
        }
        return model
    }

    /// Checks every file of the installed catalog model named `name` (see `verify(_:kind:)`).
    @discardableResult
    public func verify(named name: String, kind: ModelKind? = nil) throws(ModelStoreError) -> ResolvedModel {
        let found = try entry(named: name, kind: kind)
        return try verify(found.entry, kind: found.kind)
    }

    // MARK: A user's own models

    /// A user's own model at `url` (which exists), checked for the shape `kind` needs.
    static func userModel(at url: URL, kind: ModelKind) throws(ModelStoreError) -> ResolvedModel {
        let url = url.standardizedFileURL
        if FileSystem.isDirectory(url) {
            switch kind {
            case .stt:
                let modelBin = url.appending(path: "model.bin", directoryHint: .notDirectory)
                guard FileSystem.regularFileSize(modelBin) != nil else {
                    throw .unusablePath(url, kind: kind, reason: "a CTranslate2 folder holds model.bin")
                }
                let files = FileSystem.regularFiles(in: url)
                return ResolvedModel(
                    kind: kind, name: url.lastPathComponent, directory: url, location: url, files: files)
            case .voice, .llm, .vad:
                let candidates = FileSystem.regularFiles(in: url).filter { kind.isPrimaryFile($0.lastPathComponent) }
                guard candidates.count == 1, let file = candidates.first else {
                    let found = candidates.isEmpty ? "none" : "\(candidates.count)"
                    throw .unusablePath(
                        url, kind: kind,
                        reason: "the folder must hold exactly one \(kind.primaryFileSuffix) file (found \(found))")
                }
                return try userModel(at: file, kind: kind)
            }
        }
        let folder = url.deletingLastPathComponent()
        switch kind {
        case .stt:
            guard url.lastPathComponent == "model.bin" else {
                throw .unusablePath(url, kind: kind, reason: "give the CTranslate2 folder or its model.bin")
            }
            return try userModel(at: folder, kind: kind)
        case .voice:
            guard kind.isPrimaryFile(url.lastPathComponent) else {
                throw .unusablePath(url, kind: kind, reason: "a Piper voice is a .onnx file")
            }
            let config = folder.appending(path: url.lastPathComponent + ".json", directoryHint: .notDirectory)
            guard FileSystem.regularFileSize(config) != nil else {
                throw .unusablePath(url, kind: kind, reason: "its configuration \(config.lastPathComponent) is missing")
            }
            return ResolvedModel(
                kind: kind, name: url.deletingPathExtension().lastPathComponent, directory: folder, location: url,
                files: [url, config])
        case .llm, .vad:
            guard kind.isPrimaryFile(url.lastPathComponent) else {
                throw .unusablePath(url, kind: kind, reason: "expected a \(kind.primaryFileSuffix) file")
            }
            return ResolvedModel(
                kind: kind, name: url.deletingPathExtension().lastPathComponent, directory: folder, location: url,
                files: [url])
        }
    }
}

/// Whether a catalog model is ready to load.
public enum InstallState: Sendable {
    /// Every file is there with its catalog size.
    case installed
    /// The model's folder does not exist.
    case notInstalled
    /// The folder exists, but a file is missing or has the wrong size.
    case damaged(ModelStoreError)
}
