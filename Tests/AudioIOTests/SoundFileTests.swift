// Reading and writing sound files: round trips, real recordings, and the errors for files that are not audio.

import AudioIO
import Foundation
import Testing

@Suite("Sound files")
struct SoundFileTests {
    @Test("16-bit WAV round trip is exact", arguments: [1, 2])
    func wavRoundTrip(channelCount: Int) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let buffer = PCMBuffer(
            samples: Signal.sixteenBit(count: 4_000 * channelCount), sampleRate: 22_050, channelCount: channelCount)
        let path = folder.file("round trip.wav")
        try SoundFile.write(buffer, to: path)
        let read = try SoundFile.read(path: path)
        #expect(read == buffer)
        // 44-byte header (or WAVE_FORMAT_EXTENSIBLE's longer one) plus two bytes per sample.
        let size = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size >= 44 + buffer.samples.count * 2)
    }

    @Test("16-bit FLAC round trip is exact", arguments: [1, 2])
    func flacRoundTrip(channelCount: Int) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let buffer = PCMBuffer(
            samples: Signal.sixteenBit(count: 5_000 * channelCount), sampleRate: 16_000, channelCount: channelCount)
        let path = folder.file("round trip.flac")
        try SoundFile.write(buffer, to: path)  // format from the extension
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.starts(with: Array("fLaC".utf8)))
        #expect(try SoundFile.read(path: path) == buffer)
    }

    @Test("Float WAV keeps samples exactly, beyond [-1, 1] too")
    func floatRoundTrip() throws {
        let samples: [Float] = [0, 0.1, -0.3333, 1.5, -2, 1e-7]
        let buffer = PCMBuffer(samples: samples, sampleRate: 8_000)
        let bytes = try SoundFile.encode(buffer, as: .wavFloat)
        #expect(try SoundFile.decode(bytes) == buffer)
    }

    @Test("Encoding in memory matches writing a file, and decodes back")
    func memoryRoundTrip() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let buffer = PCMBuffer(samples: Signal.sixteenBit(count: 3_000), sampleRate: 24_000)
        for format in [SoundFileFormat.wav16, .flac16] {
            let bytes = try SoundFile.encode(buffer, as: format)
            let path = folder.file("memory.\(format.fileExtension)")
            try SoundFile.write(buffer, to: path, as: format)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes, "\(format)")
            #expect(try SoundFile.decode(bytes, name: "response") == buffer, "\(format)")
        }
    }

    @Test("16-bit writing clips and rounds with the scale 32768")
    func clipping() throws {
        let buffer = PCMBuffer(samples: [1, -1, 2, -2, .nan, 0.5, 1 / 65536, -3 / 65536], sampleRate: 16_000)
        let read = try SoundFile.decode(try SoundFile.encode(buffer))
        // Half steps round away from zero: 1/65536 to 1/32768, -3/65536 to -2/32768.
        let step: Float = 1.0 / 32768
        let expected: [Float] = [1 - step, -1, 1 - step, -1, 0, 0.5, step, -2 * step]
        #expect(read.samples == expected)
    }

    @Test("A real 16 kHz recording reads with its rate, length and sound")
    func realRecording() throws {
        let path = SpeechRecordings.path("jfk_inaugural_1961.wav")
        try #require(
            FileManager.default.fileExists(atPath: path),
            "the shared recordings are missing: \(SpeechRecordings.directory)")
        let buffer = try SoundFile.read(path: path)
        #expect(buffer.sampleRate == 16_000)
        #expect(buffer.channelCount == 1)
        #expect(buffer.frameCount == 176_000)  // 11.000 s, manifest.tsv
        #expect(buffer.duration == 11)
        let peak = buffer.samples.map(abs).max() ?? 0
        #expect(peak > 0.1 && peak <= 1)
        // Re-encoding it as FLAC and decoding that gives the same samples.
        #expect(try SoundFile.decode(try SoundFile.encode(buffer, as: .flac16)) == buffer)
    }

    @Test("Format from a path's extension")
    func formatFromPath() {
        #expect(SoundFileFormat(path: "out.wav") == .wav16)
        #expect(SoundFileFormat(path: "/tmp/x.y/Reply.FLAC") == .flac16)
        #expect(SoundFileFormat(path: "noextension") == nil)
        #expect(SoundFileFormat(path: "/tmp/.wav") == nil)
        #expect(SoundFileFormat(path: "song.mp3") == nil)
        #expect(SoundFileFormat.flac16.mimeType == "audio/flac")
    }

    // MARK: Errors

    @Test("A missing file is an unreadable-file error naming it")
    func missingFile() throws {
        let error = try #require(throws: AudioIOError.self) { try SoundFile.read(path: "/nonexistent/speech.wav") }
        #expect(error.code == .unreadableFile)
        #expect(error.subject == "/nonexistent/speech.wav")
        #expect(error.description.contains("/nonexistent/speech.wav"))
        #expect(error.detail?.isEmpty == false)
    }

    @Test("An empty file is an empty-file error")
    func emptyFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("empty.wav")
        try Data().write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: AudioIOError.self) { try SoundFile.read(path: path) }
        #expect(error.code == .emptyFile)
        #expect(error.message.contains(path))
        #expect(throws: AudioIOError(.emptyFile, "stdin is empty: it holds no audio", subject: "stdin")) {
            try SoundFile.decode([], name: "stdin")
        }
    }

    @Test("Text, a directory and random bytes are unreadable, with libsndfile's reason")
    func notAudio() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let text = folder.file("notes.wav")
        try Data("this is not a sound file\n".utf8).write(to: URL(fileURLWithPath: text))
        for path in [text, folder.path] {
            let error = try #require(throws: AudioIOError.self) { try SoundFile.read(path: path) }
            #expect(error.code == .unreadableFile, "\(path)")
            #expect(error.message.contains(path))
            #expect(error.detail?.isEmpty == false, "\(error)")
        }
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let error = try #require(throws: AudioIOError.self) { try SoundFile.decode(noise, name: "request body") }
        #expect(error.code == .unreadableFile)
        #expect(error.description.hasPrefix("cannot read audio from request body"))
    }

    @Test("Corrupt files (cut header, garbage FLAC frames) are unreadable, never a crash")
    func corrupt() throws {
        let buffer = PCMBuffer(samples: Signal.sixteenBit(count: 8_000), sampleRate: 16_000)
        let wav = try SoundFile.encode(buffer)
        let error = try #require(throws: AudioIOError.self) { try SoundFile.decode(Array(wav[..<20])) }
        #expect(error.code == .unreadableFile)

        var flac = try SoundFile.encode(buffer, as: .flac16)
        for i in stride(from: flac.count / 2, to: flac.count, by: 7) { flac[i] ^= 0x5A }
        // A damaged FLAC stream either fails to decode or decodes to something else; it never crashes.
        if let decoded = try? SoundFile.decode(flac) { #expect(decoded != buffer) }

        // A WAV cut inside its samples still reads: the samples up to the cut.
        let cut = try SoundFile.decode(Array(wav[..<(wav.count - 1_000)]))
        #expect(cut.samples == Array(buffer.samples[..<(buffer.samples.count - 500)]))
    }

    @Test("A header-only WAV is an empty buffer, not an error")
    func noSamples() throws {
        let empty = PCMBuffer(samples: [], sampleRate: 16_000)
        let decoded = try SoundFile.decode(try SoundFile.encode(empty))
        #expect(decoded.isEmpty)
        #expect(decoded.sampleRate == 16_000)
    }

    @Test("Writing is atomic: a failed write leaves nothing behind, a good one replaces the file whole")
    func atomicWrite() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let buffer = PCMBuffer(samples: Signal.sixteenBit(count: 1_000), sampleRate: 16_000)

        let missing = folder.file("no such folder/out.wav")
        let error = try #require(throws: AudioIOError.self) { try SoundFile.write(buffer, to: missing) }
        #expect(error.code == .unwritableFile)
        #expect(error.message.contains(missing))
        #expect(try folder.contents().isEmpty)

        // A rate FLAC cannot hold fails before anything is written.
        let flac = folder.file("too fast.flac")
        let tooFast = PCMBuffer(samples: [0, 0], sampleRate: 1_000_000)
        #expect(throws: AudioIOError.self) { try SoundFile.write(tooFast, to: flac) }
        #expect(try folder.contents().isEmpty)

        let path = folder.file("out.wav")
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: path))
        try SoundFile.write(buffer, to: path)
        #expect(try SoundFile.read(path: path) == buffer)
        #expect(try folder.contents() == ["out.wav"])  // no temporary file left over
    }
}
