import Foundation

extension ModelStore {
    /// The data directory models are installed in: `$HARK_DATA` when set, else `$XDG_DATA_HOME/hark` when that is
    /// an absolute path (as the XDG base directory spec asks), else `$HOME/.local/share/hark`. Empty variables count
    /// as unset. `scripts/fetch-models` follows the same rules.
    public static func dataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let data = environment["HARK_DATA"], !data.isEmpty {
            return URL(fileURLWithPath: data, isDirectory: true).standardizedFileURL
        }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg, isDirectory: true).appending(path: "hark", directoryHint: .isDirectory)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home, isDirectory: true)
            .appending(path: ".local/share/hark", directoryHint: .isDirectory)
    }

    /// The folder holding the catalogs: `voices/catalog.json` and `Resources/models/{stt,llm}.json`, the layout of the
    /// repository.
    ///
    /// Looked for, in order: `$HARK_CATALOG_DIR` (which must hold them); the nearest folder at or above the running
    /// executable's folder that holds `voices/catalog.json` (a clone's `.build/release/speak` finds the clone); the
    /// same above the current directory; `../share/hark` beside the executable's folder (an installed
    /// `<prefix>/bin/speak` finds `<prefix>/share/hark`).
    ///
    /// - Parameters:
    ///   - executable: the running executable; symbolic links are followed.
    ///   - currentDirectory: where relative searches start.
    /// - Throws: `ModelStoreError` with code `.catalogNotFound`, saying where it looked.
    public static func locateCatalogDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executable: URL? = Bundle.main.executableURL,
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
    ) throws(ModelStoreError) -> URL {
        if let given = environment["HARK_CATALOG_DIR"], !given.isEmpty {
            let url = URL(fileURLWithPath: given, isDirectory: true).standardizedFileURL
            guard holdsCatalogs(url) else { throw .catalogNotFound(searched: ["in \(url.path) (HARK_CATALOG_DIR)"]) }
            return url
        }
        var searched: [String] = []
        let executableFolder = executable.map { $0.resolvingSymlinksInPath().deletingLastPathComponent() }
        var starts: [String] = []
        for start in [executableFolder, currentDirectory].compactMap({ $0?.standardizedFileURL })
        where !starts.contains(start.path) {
            starts.append(start.path)
            if let found = folders(from: start).first(where: holdsCatalogs) { return found }
            searched.append("at or above \(start.path)")
        }
        if let executableFolder {
            let shared = executableFolder.appending(path: "../share/hark", directoryHint: .isDirectory)
                .standardizedFileURL
            if holdsCatalogs(shared) { return shared }
            searched.append("in \(shared.path)")
        }
        throw .catalogNotFound(searched: searched)
    }

    private static func holdsCatalogs(_ folder: URL) -> Bool {
        FileSystem.regularFileSize(folder.appending(path: ModelKind.voice.catalogPath)) != nil
    }

    /// `folder` and each folder above it, up to the root.
    private static func folders(from folder: URL) -> [URL] {
        let components = folder.pathComponents.filter { $0 != "/" }
        return (0...components.count).reversed().map { count in
            URL(fileURLWithPath: "/" + components.prefix(count).joined(separator: "/"), isDirectory: true)
        }
    }
}
