// PCMBuffer: interleaving, channels, mono mixdown.

import AudioIO
import Testing

@Suite("PCM buffers")
struct PCMBufferTests {
    @Test("Channels interleave and de-interleave")
    func channels() {
        let buffer = PCMBuffer(channels: [[1, 2, 3], [10, 20, 30]], sampleRate: 8_000)
        #expect(buffer.samples == [1, 10, 2, 20, 3, 30])
        #expect(buffer.frameCount == 3)
        #expect(buffer.channel(1) == [10, 20, 30])
        #expect(buffer.channels == [[1, 2, 3], [10, 20, 30]])
        #expect(buffer.duration == 3.0 / 8_000)
    }

    @Test("Stereo to mono averages the channels")
    func stereoToMono() {
        let stereo = PCMBuffer(samples: [0.5, -0.5, 1, 0, 0.25, 0.75], sampleRate: 44_100, channelCount: 2)
        let mono = stereo.mixedToMono()
        #expect(mono == PCMBuffer(samples: [0, 0.5, 0.5], sampleRate: 44_100))
        #expect(mono.mixedToMono() == mono)
        let surround = PCMBuffer(channels: [[3], [6], [0], [3]], sampleRate: 48_000)
        #expect(surround.mixedToMono().samples == [3])
    }

    @Test("An empty buffer")
    func empty() {
        let buffer = PCMBuffer(samples: [], sampleRate: 16_000, channelCount: 2)
        #expect(buffer.isEmpty)
        #expect(buffer.frameCount == 0)
        #expect(buffer.mixedToMono().isEmpty)
    }
}
