// ALSA playback and capture through real ALSA calls, with no sound card: ALSA's `file` plugin writes played
// samples to a file and reads captured samples from one. These devices are not paced in real time and capture
// keeps "succeeding" past the end of its file, so the tests count samples and never time anything.

import AudioIO
import Foundation
import Testing

@Suite("ALSA devices through the file plugin")
struct ALSATests {
    /// The raw file's bytes.
    private func contents(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("Playback writes the expected 16-bit samples", arguments: [1, 2])
    func playback(channelCount: Int) async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("played.raw")
        let speaker = try ALSAPlayback(
            device: "hark_out", sampleRate: 22_050, channelCount: channelCount,
            configuration: .filePlayback(named: "hark_out", to: output))
        #expect(speaker.sampleRate == 22_050)  // the file plugin takes any rate
        #expect(speaker.periodFrames == 441)  // 20 ms
        #expect(speaker.bufferFrames == 4 * 441)

        var samples = Signal.sine(frequency: 440, sampleRate: 22_050, frames: 11_025 * channelCount)
        samples[0] = 1.5  // clipped to 32767
        samples[1] = -1.5  // clipped to -32768
        // Two writes: one shorter than the device's buffer, one longer than many periods.
        try await speaker.write(Array(samples[..<(100 * channelCount)]))
        try await speaker.write(Array(samples[(100 * channelCount)...]))
        try await speaker.drain()
        #expect(await speaker.xrunCount == 0)
        await speaker.close()

        let bytes = try contents(output)
        let expected = Signal.littleEndianBytes(samples)
        #expect(Array(bytes.prefix(4)) == [0xFF, 0x7F, 0x00, 0x80])
        #expect(bytes.count >= expected.count)
        #expect(Array(bytes.prefix(expected.count)) == expected)
        // The plugin pads the last period with silence, nothing else.
        #expect(bytes[expected.count...].allSatisfy { $0 == 0 })
        #expect(bytes.count - expected.count < speaker.periodFrames * channelCount * 2)
    }

    @Test("Playback can be stopped and goes on taking writes")
    func stop() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("played.raw")
        let speaker = try ALSAPlayback(
            device: "speaker", sampleRate: 16_000, configuration: .filePlayback(named: "speaker", to: output))
        let long = [Float](repeating: 0.25, count: 160_000)
        async let writing: Void = speaker.write(long)
        try await speaker.stop()
        try await writing
        try await speaker.write([Float](repeating: 0.5, count: 1_600))
        try await speaker.drain()
        await speaker.close()
        // Whatever reached the device before the stop, the samples after it are all there, last.
        let bytes = try contents(output)
        let tail = Signal.littleEndianBytes([Float](repeating: 0.5, count: 1_600))
        let end = bytes.lastIndex { $0 != 0 }.map { $0 + 1 } ?? 0
        #expect(Array(bytes[..<end].suffix(tail.count)) == tail)
    }

    @Test("Cancelling the writing task cuts a long write short")
    func cancelledWrite() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("played.raw")
        let speaker = try ALSAPlayback(
            device: "speaker", sampleRate: 8_000, configuration: .filePlayback(named: "speaker", to: output))
        // Ten minutes: 15 000 periods, each a turn for other callers; the cancel comes long before the end.
        let long = [Float](repeating: 0.25, count: 8_000 * 600)
        let writing = Task { try await speaker.write(long) }
        writing.cancel()
        try await writing.value
        try await speaker.write([Float](repeating: 0.5, count: 800))
        try await speaker.drain()
        await speaker.close()
        let bytes = try contents(output)
        let quarter = Signal.littleEndianBytes([0.25])
        let written = stride(from: 0, to: bytes.count - 1, by: 2).filter {
            bytes[$0] == quarter[0] && bytes[$0 + 1] == quarter[1]
        }
        #expect(written.count < long.count)
        #expect(bytes.count >= 1_600)
    }

    @Test("Capture yields the samples of the input file, in fixed-size chunks")
    func capture() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("microphone.raw")
        let samples = Signal.sixteenBit(count: 16_000 + 123)
        // The file ends with silence beyond what is read (capture past the end would keep "succeeding").
        try Data(Signal.littleEndianBytes(samples + [Float](repeating: 0, count: 3_200)))
            .write(to: URL(fileURLWithPath: input))
        let microphone = try ALSACapture(
            device: "hark_in", sampleRate: 16_000, configuration: .fileCapture(named: "hark_in", from: input))
        #expect(microphone.sampleRate == 16_000)
        #expect(microphone.periodFrames == 320)

        var chunks: [PCMBuffer] = []
        for try await chunk in microphone.chunks(totalFrames: samples.count, bufferingPolicy: .unbounded) {
            chunks.append(chunk)
        }
        #expect(chunks.count == 51)  // 50 full chunks of 320 frames, then 123
        #expect(chunks.dropLast().allSatisfy { $0.frameCount == 320 && $0.sampleRate == 16_000 })
        #expect(chunks.last?.frameCount == 123)
        #expect(chunks.flatMap(\.samples) == samples)
        #expect(await microphone.xrunCount == 0)
    }

    @Test("Stereo capture with a chosen chunk size")
    func stereoCapture() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("stereo.raw")
        let samples = Signal.sixteenBit(count: 2 * 1_000)
        try Data(Signal.littleEndianBytes(samples + [Float](repeating: 0, count: 2_000)))
            .write(to: URL(fileURLWithPath: input))
        let microphone = try ALSACapture(
            device: "hark_in", sampleRate: 48_000, channelCount: 2,
            configuration: .fileCapture(named: "hark_in", from: input))
        var captured: [Float] = []
        for try await chunk in microphone.chunks(chunkFrames: 256, totalFrames: 1_000, bufferingPolicy: .unbounded) {
            #expect(chunk.channelCount == 2)
            captured += chunk.samples
        }
        #expect(captured == samples)
    }

    @Test("Past the end of its file, capture delivers silence, not stale samples")
    func pastTheEnd() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("short.raw")
        let samples = Signal.sixteenBit(count: 500)
        try Data(Signal.littleEndianBytes(samples)).write(to: URL(fileURLWithPath: input))
        let microphone = try ALSACapture(
            device: "hark_in", sampleRate: 16_000, configuration: .fileCapture(named: "hark_in", from: input))
        var captured: [Float] = []
        for try await chunk in microphone.chunks(totalFrames: 2_000, bufferingPolicy: .unbounded) {
            captured += chunk.samples
        }
        #expect(captured.count == 2_000)
        #expect(Array(captured[..<500]) == samples)
        #expect(captured[640...].allSatisfy { $0 == 0 })
    }

    @Test("Leaving the loop stops a recording; stop() ends one; the device records again after")
    func cancellation() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("long.raw")
        try Data(Signal.littleEndianBytes(Signal.sixteenBit(count: 64_000))).write(to: URL(fileURLWithPath: input))
        let microphone = try ALSACapture(
            device: "hark_in", sampleRate: 16_000, configuration: .fileCapture(named: "hark_in", from: input))

        var count = 0
        for try await _ in microphone.chunks() {  // no totalFrames: records until told to stop
            count += 1
            if count == 3 { break }
        }
        #expect(count == 3)

        // stop() from another task ends an endless recording; the stream then finishes normally.
        var received = 0
        for try await _ in microphone.chunks(bufferingPolicy: .unbounded) {
            received += 1
            if received == 2 { await microphone.stop() }
        }
        #expect(received >= 2)

        var again = 0
        for try await chunk in microphone.chunks(totalFrames: 640) { again += chunk.frameCount }
        #expect(again == 640)
    }

    @Test("A new recording ends the running one; after close() recordings fail with a typed error")
    func supersede() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("in.raw")
        try Data(Signal.littleEndianBytes(Signal.sixteenBit(count: 64_000))).write(to: URL(fileURLWithPath: input))
        let microphone = try ALSACapture(
            device: "hark_in", sampleRate: 16_000, configuration: .fileCapture(named: "hark_in", from: input))
        let first = microphone.chunks(bufferingPolicy: .bufferingOldest(4))
        var iterator = first.makeAsyncIterator()
        _ = try await iterator.next()  // the first recording is running
        var frames = 0
        for try await chunk in microphone.chunks(totalFrames: 960) { frames += chunk.frameCount }
        #expect(frames == 960)
        var left = 0
        while try await iterator.next() != nil { left += 1 }  // the first stream has finished
        #expect(left <= 4)

        await microphone.close()
        let error = await #expect(throws: AudioIOError.self) {
            for try await _ in microphone.chunks() {}
        }
        #expect(error?.code == .deviceUnavailable)

        let speaker = try ALSAPlayback(
            device: "out", sampleRate: 16_000, configuration: .filePlayback(named: "out", to: folder.file("o.raw")))
        await speaker.close()
        let closed = try await #require(throws: AudioIOError.self) { try await speaker.write([0]) }
        #expect(closed.code == .deviceUnavailable)
    }

    @Test("A device that does not exist is a no-sound-device error suggesting a file", arguments: [true, false])
    func missingDevice(playback: Bool) throws {
        let error = try #require(throws: AudioIOError.self) {
            if playback {
                _ = try ALSAPlayback(device: "nosuchdevice", sampleRate: 16_000)
            } else {
                _ = try ALSACapture(device: "nosuchdevice", sampleRate: 16_000)
            }
        }
        #expect(error.code == .noSoundDevice)
        #expect(error.subject == "nosuchdevice")
        #expect(error.message.contains("'nosuchdevice'"))
        #expect(error.message.contains("file instead"))
        #expect(error.errorNumber ?? 0 < 0)
        #expect(error.detail?.isEmpty == false)
    }

    @Test("Configuration that does not parse is an invalid-argument error")
    func badConfiguration() throws {
        let error = try #require(throws: AudioIOError.self) {
            _ = try ALSAPlayback(device: "x", sampleRate: 16_000, configuration: ALSAConfiguration("pcm.x { type"))
        }
        #expect(error.code == .invalidArgument)
    }

    @Test("Configuration text is loaded on top of the system's: its `null` device is there to refer to")
    func systemConfiguration() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("out.raw")
        let text = """
            pcm.short_form {
                type file
                slave.pcm "null"
                file "\(output)"
                format "raw"
            }
            """
        let speaker = try ALSAPlayback(device: "short_form", sampleRate: 16_000, configuration: ALSAConfiguration(text))
        try await speaker.write([0.5, -0.5])
        try await speaker.drain()
        await speaker.close()
        #expect(try contents(output).prefix(4) == [0x00, 0x40, 0x00, 0xC0])
        // The plain `null` device opens too, and captures silence (AudioIO zeroes what it never writes).
        let silence = try ALSACapture(device: "null", configuration: ALSAConfiguration(""))
        var captured: [Float] = []
        for try await chunk in silence.chunks(totalFrames: 100) { captured += chunk.samples }
        #expect(captured == [Float](repeating: 0, count: 100))
    }

    @Test("A WAV file device and paths needing quotes")
    func wavDevice() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("a \"quoted\" name's.wav")
        let samples = Signal.sixteenBit(count: 2_205)
        let speaker = try ALSAPlayback(
            device: "hark wav", sampleRate: 22_050,
            configuration: .filePlayback(named: "hark wav", to: output, wav: true))
        try await speaker.write(samples)
        try await speaker.drain()
        await speaker.close()
        let played = try SoundFile.read(path: output)
        #expect(played.sampleRate == 22_050)
        #expect(Array(played.samples.prefix(samples.count)) == samples)
    }
}
