// Streaming WAV output of unknown length: to a file (sizes patched at the end) and to a pipe (placeholders stay).

import AudioIO
import Foundation
import Testing

@Suite("Streaming WAV writer")
struct WAVStreamWriterTests {
    @Test("To a file: chunks become one valid WAV with the real sizes")
    func file() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("stream.wav")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let samples = Signal.sixteenBit(count: 2 * 3_000)
        var writer = try WAVStreamWriter(fileDescriptor: descriptor, sampleRate: 22_050, channelCount: 2, name: path)
        for start in stride(from: 0, to: samples.count, by: 1_000) {
            try writer.write(Array(samples[start..<(start + 1_000)]))
        }
        #expect(writer.dataByteCount == 12_000)
        try writer.finish()

        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == 44 + 12_000)
        #expect(Array(bytes[4..<8]) == [0x04, 0x2F, 0, 0])  // 36 + 12000 = 12036
        #expect(Array(bytes[40..<44]) == [0xE0, 0x2E, 0, 0])  // 12000
        #expect(try SoundFile.read(path: path) == PCMBuffer(samples: samples, sampleRate: 22_050, channelCount: 2))
    }

    @Test("To a pipe: the header keeps its unknown-length sizes and the stream still decodes")
    func pipe() throws {
        var ends: [Int32] = [0, 0]
        try #require(Glibc.pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let samples = Signal.sixteenBit(count: 4_000)  // 8 kB: fits in the pipe's buffer
        var writer = try WAVStreamWriter(fileDescriptor: ends[1], sampleRate: 16_000)
        try writer.write(samples)
        try writer.finish()
        var bytes = [UInt8](repeating: 0, count: 44 + 8_000 + 1)
        let count = read(ends[0], &bytes, bytes.count)
        #expect(count == 44 + 8_000)
        bytes.removeLast(bytes.count - max(0, count))
        #expect(Array(bytes[4..<8]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(Array(bytes[40..<44]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try SoundFile.decode(bytes) == PCMBuffer(samples: samples, sampleRate: 16_000))
    }

    @Test("A closed descriptor is an unwritable-file error")
    func closedDescriptor() throws {
        let error = try #require(throws: AudioIOError.self) {
            _ = try WAVStreamWriter(fileDescriptor: 9_999, sampleRate: 16_000, name: "nowhere")
        }
        #expect(error.code == .unwritableFile)
        #expect(error.message.contains("nowhere"))
    }
}
