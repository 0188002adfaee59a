// Resampling with libsoxr: frequency and length kept, streaming equal to one-shot, channels independent.

import AudioIO
import Foundation
import Testing

@Suite("Resampler")
struct ResamplerTests {
    /// Peak error of `samples` against an ideal sine, away from the edges (where the filter sees the signal start).
    private func sineError(
        _ samples: ArraySlice<Float>, frequency: Double, sampleRate: Int, amplitude: Double = 0.5, margin: Int = 200
    ) -> Float {
        let ideal = Signal.sine(
            frequency: frequency, sampleRate: sampleRate, frames: samples.count, amplitude: amplitude)
        let range = margin..<(samples.count - margin)
        let start = samples.startIndex
        return Signal.maximumDifference(
            samples[(start + range.lowerBound)..<(start + range.upperBound)], ideal[range])
    }

    @Test("44.1 kHz to 16 kHz keeps a 1 kHz sine's frequency, phase and length")
    func sineDown() throws {
        let input = PCMBuffer(
            samples: Signal.sine(frequency: 1_000, sampleRate: 44_100, frames: 44_100), sampleRate: 44_100)
        let output = try input.resampled(to: 16_000)
        #expect(output.sampleRate == 16_000)
        #expect(output.frameCount == 16_000)
        #expect(sineError(output.samples[...], frequency: 1_000, sampleRate: 16_000) < 2e-3)
        // Zero crossings: 2 per period, 1000 periods.
        let crossings = zip(output.samples, output.samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 2_000) <= 2)
    }

    @Test("22.05 kHz voice rate to 48 kHz device rate")
    func sineUp() throws {
        let samples = Signal.sine(frequency: 440, sampleRate: 22_050, frames: 22_050)
        let output = try Resampler.resample(samples, from: 22_050, to: 48_000)
        #expect(output.count == 48_000)
        #expect(sineError(output[...], frequency: 440, sampleRate: 48_000) < 2e-3)
    }

    @Test("Content above the new Nyquist rate is filtered out")
    func antiAliasing() throws {
        // 10 kHz cannot exist at 16 kHz; it must not fold back to 6 kHz.
        let samples = Signal.sine(frequency: 10_000, sampleRate: 44_100, frames: 44_100)
        let output = try Resampler.resample(samples, from: 44_100, to: 16_000)
        let peak = output[400..<(output.count - 400)].map(abs).max() ?? 1
        #expect(peak < 1e-3)
    }

    @Test(
        "Output length is round(n * to / from), halves up",
        arguments: [1, 2, 3, 7, 100, 441, 1_000, 44_099, 44_100, 44_101])
    func lengths(frames: Int) throws {
        for (from, to) in [(44_100, 16_000), (22_050, 48_000), (16_000, 22_050), (48_000, 16_000), (32_000, 16_000)] {
            let samples = [Float](repeating: 0.25, count: frames)
            let expected = Int((Double(frames) * Double(to) / Double(from)).rounded())  // halves up
            let output = try Resampler.resample(samples, from: from, to: to)
            #expect(output.count == expected, "\(frames) frames \(from) -> \(to)")
        }
    }

    @Test("Streaming in uneven chunks gives the one-shot output", arguments: [(44_100, 16_000), (22_050, 48_000)])
    func streaming(rates: (Int, Int)) throws {
        let (from, to) = rates
        var samples = Signal.sine(frequency: 700, sampleRate: from, frames: from)
        for i in samples.indices { samples[i] += 0.2 * Float(sin(Double(i) * 0.031)) }
        let oneShot = try Resampler.resample(samples, from: from, to: to)

        var resampler = try Resampler(from: from, to: to)
        var streamed: [Float] = []
        var offset = 0
        var sizes = [1, 17, 320, 4_096, 0, 999, 2_205]
        while offset < samples.count {
            let size = min(sizes.first!, samples.count - offset)
            sizes.append(sizes.removeFirst())
            streamed += try resampler.process(Array(samples[offset..<(offset + size)]))
            offset += size
        }
        streamed += try resampler.finish()
        #expect(streamed.count == oneShot.count)
        #expect(Signal.maximumDifference(streamed[...], oneShot[...]) < 1e-5)
    }

    @Test("Stereo channels are resampled independently")
    func stereo() throws {
        let left = Signal.sine(frequency: 440, sampleRate: 44_100, frames: 22_050)
        let right = Signal.sine(frequency: 1_500, sampleRate: 44_100, frames: 22_050, amplitude: 0.25)
        let input = PCMBuffer(channels: [left, right], sampleRate: 44_100)
        let output = try input.resampled(to: 16_000)
        #expect(output.channelCount == 2)
        #expect(output.frameCount == 8_000)
        #expect(sineError(output.channel(0)[...], frequency: 440, sampleRate: 16_000) < 2e-3)
        #expect(sineError(output.channel(1)[...], frequency: 1_500, sampleRate: 16_000, amplitude: 0.25) < 2e-3)
    }

    @Test("Any rate and channel count to 16 kHz mono, as Whisper wants it")
    func toWhisper() throws {
        let left = Signal.sine(frequency: 300, sampleRate: 48_000, frames: 48_000)
        let input = PCMBuffer(channels: [left, left], sampleRate: 48_000)
        let output = try input.mixedToMono().resampled(to: 16_000)
        #expect(output.channelCount == 1)
        #expect(output.frameCount == 16_000)
        #expect(sineError(output.samples[...], frequency: 300, sampleRate: 16_000) < 2e-3)
    }

    @Test("Same rate is the identity; bad rates are typed errors")
    func edges() throws {
        let buffer = PCMBuffer(samples: [0.1, 0.2, 0.3], sampleRate: 16_000)
        #expect(try buffer.resampled(to: 16_000) == buffer)
        #expect(try Resampler.resample([], from: 8_000, to: 16_000).isEmpty)
        let error = try #require(throws: AudioIOError.self) { try Resampler.resample([0], from: 0, to: 16_000) }
        #expect(error.code == .invalidArgument)
        #expect(throws: AudioIOError.self) { _ = try Resampler(from: 16_000, to: -1) }
        #expect(throws: AudioIOError.self) {
            try Resampler.resample([0, 0, 0], from: 8_000, to: 16_000, channelCount: 2)
        }
    }
}
