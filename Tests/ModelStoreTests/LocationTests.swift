import Foundation
import ModelStore
import Testing

@Suite("Where the data and the catalogs are")
struct LocationTests {
    @Test("HARK_DATA wins over XDG_DATA_HOME and HOME")
    func harkData() {
        let environment = ["HARK_DATA": "/srv/hark", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"]
        #expect(ModelStore.dataDirectory(environment: environment).path == "/srv/hark")
    }

    @Test("a relative HARK_DATA is taken from the current directory")
    func relativeHarkData() {
        let directory = ModelStore.dataDirectory(environment: ["HARK_DATA": "models"])
        #expect(directory.path == FileManager.default.currentDirectoryPath + "/models")
    }

    @Test("XDG_DATA_HOME/hark without HARK_DATA")
    func xdgDataHome() {
        let environment = ["HARK_DATA": "", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"]
        #expect(ModelStore.dataDirectory(environment: environment).path == "/xdg/hark")
    }

    @Test(
        "HOME/.local/share/hark when XDG_DATA_HOME is unset, empty or relative", arguments: [nil, "", "relative/data"])
    func homeDefault(xdg: String?) {
        var environment = ["HOME": "/home/u"]
        environment["XDG_DATA_HOME"] = xdg
        #expect(ModelStore.dataDirectory(environment: environment).path == "/home/u/.local/share/hark")
    }

    /// A folder laid out like the repository: catalogs at the top, a build folder with an executable deep inside.
    static func makeClone() throws -> TemporaryDirectory {
        let clone = try TemporaryDirectory()
        try clone.write("{}", to: "voices/catalog.json")
        try clone.write("", to: ".build/x86_64-unknown-linux-gnu/release/speak")
        return clone
    }

    @Test("HARK_CATALOG_DIR is used when set, and must hold the catalogs")
    func catalogDirectoryFromEnvironment() throws {
        let clone = try Self.makeClone()
        defer { clone.remove() }
        let found = try ModelStore.locateCatalogDirectory(
            environment: ["HARK_CATALOG_DIR": clone.url.path], executable: nil,
            currentDirectory: URL(fileURLWithPath: "/"))
        #expect(found.path == clone.url.path)

        let empty = try TemporaryDirectory()
        defer { empty.remove() }
        let error = #expect(throws: ModelStoreError.self) {
            try ModelStore.locateCatalogDirectory(
                environment: ["HARK_CATALOG_DIR": empty.url.path],
                executable: clone.url.appending(path: ".build/x86_64-unknown-linux-gnu/release/speak"),
                currentDirectory: clone.url)
        }
        #expect(error?.code == .catalogNotFound)
        #expect(error?.message.contains(empty.url.path) == true)
    }

    @Test("the clone above the running executable is found")
    func catalogDirectoryAboveExecutable() throws {
        let clone = try Self.makeClone()
        defer { clone.remove() }
        let executable = clone.url.appending(path: ".build/x86_64-unknown-linux-gnu/release/speak")
        let found = try ModelStore.locateCatalogDirectory(
            environment: [:], executable: executable, currentDirectory: URL(fileURLWithPath: "/"))
        #expect(found.path == clone.url.path)
    }

    @Test("a symbolic link to the executable is followed to the clone")
    func catalogDirectoryThroughLink() throws {
        let clone = try Self.makeClone()
        let elsewhere = try TemporaryDirectory()
        defer {
            clone.remove()
            elsewhere.remove()
        }
        let link = elsewhere.url.appending(path: "speak")
        try FileManager.default.createSymbolicLink(
            at: link, withDestinationURL: clone.url.appending(path: ".build/x86_64-unknown-linux-gnu/release/speak"))
        let found = try ModelStore.locateCatalogDirectory(
            environment: [:], executable: link, currentDirectory: URL(fileURLWithPath: "/"))
        #expect(found.path == clone.url.resolvingSymlinksInPath().path)
    }

    @Test("the clone above the current directory is found when the executable is elsewhere")
    func catalogDirectoryAboveCurrentDirectory() throws {
        let clone = try Self.makeClone()
        let elsewhere = try TemporaryDirectory()
        defer {
            clone.remove()
            elsewhere.remove()
        }
        let found = try ModelStore.locateCatalogDirectory(
            environment: [:], executable: elsewhere.url.appending(path: "bin/speak"),
            currentDirectory: clone.url.appending(path: "Sources/speak"))
        #expect(found.path == clone.url.path)
    }

    @Test("an installed executable finds <prefix>/share/hark")
    func catalogDirectoryInPrefix() throws {
        let prefix = try TemporaryDirectory()
        defer { prefix.remove() }
        try prefix.write("{}", to: "share/hark/voices/catalog.json")
        try prefix.write("", to: "bin/speak")
        let found = try ModelStore.locateCatalogDirectory(
            environment: [:], executable: prefix.url.appending(path: "bin/speak"),
            currentDirectory: URL(fileURLWithPath: "/"))
        #expect(found.path == prefix.url.appending(path: "share/hark").path)
    }

    @Test("no catalogs anywhere: the error says where it looked and what to set")
    func catalogDirectoryMissing() throws {
        let nowhere = try TemporaryDirectory()
        defer { nowhere.remove() }
        let error = #expect(throws: ModelStoreError.self) {
            try ModelStore.locateCatalogDirectory(
                environment: [:], executable: nowhere.url.appending(path: "bin/speak"), currentDirectory: nowhere.url)
        }
        #expect(error?.code == .catalogNotFound)
        #expect(error?.message.contains("HARK_CATALOG_DIR") == true)
        #expect(error?.message.contains(nowhere.url.appending(path: "share/hark").path) == true)
    }

    @Test("an executable in the current directory is searched from once")
    func catalogDirectorySearchedOnce() throws {
        let nowhere = try TemporaryDirectory()
        defer { nowhere.remove() }
        let error = #expect(throws: ModelStoreError.self) {
            try ModelStore.locateCatalogDirectory(
                environment: [:], executable: nowhere.url.appending(path: "speak"), currentDirectory: nowhere.url)
        }
        #expect(error?.message.components(separatedBy: "at or above").count == 2, "\(error?.message ?? "")")
    }
}
