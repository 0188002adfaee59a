import Testing

@testable import Tensors

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("MappedFile and ByteCursor")
struct MappedFileTests {
    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        var template = Array("/tmp/hark-tensors-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        try #require(written == bytes.count)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    @Test("maps a file read-only; errors name the path")
    func mapsFile() throws {
        let path = try MappedFileTests.temporaryFile([1, 2, 3, 4])
        defer { unlink(path) }
        let file = try MappedFile(path: path)
        withExtendedLifetime(file) { #expect(Array(file.bytes) == [1, 2, 3, 4] && file.path == path) }

        let missing = modelFileError(
            MappedFile(bytes: [], path: ""),
            { _ throws(ModelFileError) in
                try MappedFile(path: "/nonexistent/hark/model.bin")
            })
        #expect(missing?.kind == .unreadable && missing?.file == "/nonexistent/hark/model.bin")
        let directory = modelFileError(
            MappedFile(bytes: [], path: ""),
            { _ throws(ModelFileError) in
                try MappedFile(path: "/tmp")
            })
        #expect(directory?.kind == .unreadable && directory?.message == "not a regular file")
    }

    @Test("an empty file maps to no bytes")
    func emptyFile() throws {
        let path = try MappedFileTests.temporaryFile([])
        defer { unlink(path) }
        #expect(try MappedFile(path: path).bytes.count == 0)
        #expect(MappedFile(bytes: [], path: "empty").bytes.isEmpty)
    }

    @Test("in-memory files are 64-byte aligned copies")
    func inMemory() {
        let file = MappedFile(bytes: [9, 8, 7], path: "memory")
        withExtendedLifetime(file) {
            #expect(Array(file.bytes) == [9, 8, 7] && file.path == "memory")
            #expect(Int(bitPattern: file.bytes.baseAddress) % 64 == 0)
        }
    }

    @Test("a prefix shares the bytes, keeps its parent alive and clamps its length")
    func prefix() {
        var view: MappedFile
        do {
            let file = MappedFile(bytes: Array(0..<100), path: "parent")
            view = file.prefix(10)
            withExtendedLifetime(file) { #expect(view.bytes.baseAddress == file.bytes.baseAddress) }
        }
        // The parent is gone from this scope; the view alone keeps its bytes mapped.
        withExtendedLifetime(view) { #expect(Array(view.bytes) == Array(0..<10) && view.path == "parent") }
        #expect(view.prefix(50).bytes.count == 10)
        #expect(view.prefix(-1).bytes.isEmpty)
        // A tensor from a view keeps the whole chain alive.
        let tensor = Tensor(file: view.prefix(8), offset: 4, shape: [4], dtype: .u8)
        view = MappedFile(bytes: [], path: "other")
        #expect(tensor.integers() == [4, 5, 6, 7])
    }

    @Test("a patched mapping changes the private copy, never the file")
    func patched() throws {
        let path = try MappedFileTests.temporaryFile(Array(repeating: 0, count: 10_000))
        defer { unlink(path) }
        let patched = try MappedFile(path: path) { bytes in bytes[5000] = 0xAB }
        let original = try MappedFile(path: path)
        // `bytes` is only valid while its file lives: keep both alive while reading.
        withExtendedLifetime((patched, original)) {
            #expect(patched.bytes[5000] == 0xAB && patched.bytes[4999] == 0)
            #expect(original.bytes[5000] == 0)
        }
    }

    @Test("readCount rejects counts the remaining bytes cannot hold, before any conversion")
    func readCount() throws {
        var w = ByteWriter()
        w.u64(3)
        w.u64(.max)
        w.u32(0)
        var cursor = ByteCursor(w.file("counts"))
        #expect(try cursor.readCount(UInt64.self, minimumSize: 4, "small") == 3)
        #expect(
            throws: ModelFileError(
                .truncated, file: "counts", offset: 8,
                "huge declares 18446744073709551615 items of at least 1 bytes but only 4 bytes remain")
        ) {
            try cursor.readCount(UInt64.self, minimumSize: 1, "huge")
        }
    }

    @Test("UTF-8 validation agrees with the standard library on random and edge-case bytes")
    func utf8() {
        let cases: [[UInt8]] = [
            [], Array("plain".utf8), Array("été 🙂 中".utf8), [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF8], [0xC3], [0xE2, 0x82], [0x80], [0xEF, 0xBF, 0xBF],
            [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        var rng = SeededRandom(seed: 7)
        var all = cases
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<8, using: &rng)
            all.append((0..<n).map { _ in UInt8.random(in: 0x7E...0xF5, using: &rng) })
        }
        for bytes in all {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes(isValidUTF8) == expected, "\(bytes)")
        }
    }
}
