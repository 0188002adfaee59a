// Where speak's audio goes: a WAV file written atomically, a WAV or raw stream on standard output, or an ALSA
// playback device. Streams write nothing before the first chunk, so a failure before it leaves no partial output.

import AudioIO
import Foundation
import PiperTTS

/// A destination for speech, fed chunk by chunk.
protocol SpeechOutput: AnyObject {
    /// Gets ready (opens a device) so that its failures come before any synthesis; `write` opens it when not done.
    func open(sampleRate: Int) async throws
    /// Takes the next chunk.
    func write(_ chunk: SpeechChunk) async throws
    /// Ends the output: writes the file, patches the header, waits for the device to play everything.
    func finish() async throws
}

/// A sound file written in one go at the end, atomically: the file appears complete or not at all. WAV 16-bit,
/// or FLAC when the name ends in `.flac`.
final class SoundFileOutput: SpeechOutput {
    let path: String
    private var samples: [Float] = []
    private var sampleRate = 0

    init(path: String) {
        self.path = path
    }

    func open(sampleRate: Int) async throws {
        self.sampleRate = sampleRate
    }

    func write(_ chunk: SpeechChunk) async throws {
        sampleRate = chunk.sampleRate
        samples += chunk.samples
    }

    func finish() async throws {
        guard sampleRate > 0 else { return }
        try SoundFile.write(PCMBuffer(samples: samples, sampleRate: sampleRate), to: path)
    }
}

/// A 16-bit WAV streamed to standard output as the chunks come (`-f -`); the header goes out with the first chunk.
final class WAVStreamOutput: SpeechOutput {
    private var writer: WAVStreamWriter?

    func open(sampleRate: Int) async throws {}

    func write(_ chunk: SpeechChunk) async throws {
        if writer == nil {
            writer = try WAVStreamWriter(fileDescriptor: STDOUT_FILENO, sampleRate: chunk.sampleRate)
        }
        try writer!.write(chunk.samples)
    }

    func finish() async throws {
        try writer.take()?.finish()
    }
}

/// Raw signed 16-bit little-endian mono samples at the voice's rate, on standard output, chunk by chunk
/// (`--output-raw`, e.g. `| aplay -r 22050 -f S16_LE -t raw -`).
final class RawStreamOutput: SpeechOutput {
    func open(sampleRate: Int) async throws {}

    func write(_ chunk: SpeechChunk) async throws {
        try FileHandle.standardOutput.write(contentsOf: Self.littleEndian16(chunk.samples))
    }

    func finish() async throws {}

    /// Samples as 16-bit little-endian bytes, with AudioIO's conversion (scale 32768, rounded, clipped), so the
    /// bytes equal the samples of a WAV file written by `-f`.
    static func littleEndian16(_ samples: [Float]) -> Data {
        var bytes = Data(count: samples.count * 2)
        bytes.withUnsafeMutableBytes { raw in
            for (i, sample) in samples.enumerated() {
                let scaled = (sample * 32768).rounded()
                let value: Int16 =
                    scaled >= 32767 ? .max : scaled <= -32768 ? .min : scaled.isNaN ? 0 : Int16(scaled)
                raw.storeBytes(of: value.littleEndian, toByteOffset: 2 * i, as: Int16.self)
            }
        }
        return bytes
    }
}

/// An ALSA playback device, resampling when the device took another rate than the voice's.
final class PlaybackOutput: SpeechOutput {
    let device: String
    private var playback: ALSAPlayback?
    private var resampler: Resampler?

    init(device: String) {
        self.device = device
    }

    func open(sampleRate: Int) async throws {
        guard playback == nil else { return }
        // 200 ms of buffer: room for a scheduling hiccup of the process that feeds it.
        let playback = try ALSAPlayback(
            device: device, sampleRate: sampleRate, periodDuration: .milliseconds(50), periodCount: 4)
        if playback.sampleRate != sampleRate {
            resampler = try Resampler(from: sampleRate, to: playback.sampleRate)
        }
        self.playback = playback
    }

    func write(_ chunk: SpeechChunk) async throws {
        try await open(sampleRate: chunk.sampleRate)
        let samples = resampler == nil ? chunk.samples : try resampler!.process(chunk.samples)
        try await playback!.write(samples)
    }

    func finish() async throws {
        guard let playback else { return }
        if let tail = try resampler.take()?.finish() { try await playback.write(tail) }
        try await playback.drain()
        await playback.close()
    }
}
