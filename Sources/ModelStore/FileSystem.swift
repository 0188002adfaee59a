import Foundation

/// The few file-system questions the store asks, answered through symbolic links.
enum FileSystem {
    static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The size in bytes of a regular file, or `nil` when there is no regular file at `url`.
    static func regularFileSize(_ url: URL) -> Int? {
        let path = url.resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType == .typeRegular,
            let size = attributes[.size] as? NSNumber
        else { return nil }
        return size.intValue
    }

    /// The regular files directly in a folder, hidden ones left out, sorted by name.
    static func regularFiles(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted()
            .filter { !$0.hasPrefix(".") }
            .map { folder.appending(path: $0, directoryHint: .notDirectory) }
            .filter { regularFileSize($0) != nil }
    }
}
