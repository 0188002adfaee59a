import Foundation
import ModelStore
import Testing

@Suite("SHA-256 of files")
struct FileDigestTests {
    @Test(
        "published test vectors, read whole and in chunks that split the input unevenly",
        arguments: [FileDigest.defaultChunkSize, 1, 7, 64, 4096])
    func vectors(chunkSize: Int) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        for (index, vector) in [Vector.empty, Vector.abc, Vector.twoBlocks, Vector.millionA].enumerated() {
            if chunkSize == 1 && vector.contents.utf8.count > 1000 { continue }
            let file = try folder.write(vector.contents, to: "vector-\(index)")
            #expect(try FileDigest.sha256(of: file, chunkSize: chunkSize) == vector.sha256)
        }
    }

    @Test("an unreadable file is a typed error naming it")
    func unreadable() {
        let error = #expect(throws: ModelStoreError.self) {
            try FileDigest.sha256(of: URL(fileURLWithPath: "/no/such/file"))
        }
        #expect(error?.code == .unreadableFile)
        #expect(error?.path == "/no/such/file")
        #expect(error?.cause != nil)
    }
}
