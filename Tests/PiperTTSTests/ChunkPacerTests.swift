import Testing

@testable import PiperTTS

/// The decoder stage's pacing: planned chunks decoded one by one until the decoder's speed is known, then merged as
/// far as the frame cap and the time budget (half the audio delivered ahead of real-time playback) allow.
@Suite("Chunk pacing")
struct ChunkPacerTests {
    let planned = [32..<96, 96..<224, 224..<402][...]

    @Test("before any chunk is decoded, one planned chunk at a time")
    func firstChunkAlone() {
        #expect(ChunkPacer(maximumFrames: 512).count(of: planned) == 1)
    }

    @Test("a fast decoder takes the following chunks together, up to the frame cap")
    func fastDecoderMerges() {
        var pacer = ChunkPacer(maximumFrames: 512)
        // 32 frames (0.37 s of audio) decoded in 2 ms.
        pacer.delivered(frames: 32, seconds: 0.37, in: .milliseconds(2))
        #expect(pacer.count(of: planned) == 3)
        var capped = ChunkPacer(maximumFrames: 150)
        capped.delivered(frames: 32, seconds: 0.37, in: .milliseconds(2))
        #expect(capped.count(of: planned) == 1)
        var wider = ChunkPacer(maximumFrames: 300)
        wider.delivered(frames: 32, seconds: 0.37, in: .milliseconds(2))
        #expect(wider.count(of: planned) == 2)
    }

    @Test("a slow decoder keeps the plan: merging would not be ready before the audio runs out")
    func slowDecoderKeepsPlan() {
        var pacer = ChunkPacer(maximumFrames: 512)
        // 32 frames decoded in 0.2 s: 128 more frames would take 0.8 s, more than half of the 0.37 s ahead.
        pacer.delivered(frames: 32, seconds: 0.37, in: .milliseconds(200))
        #expect(pacer.count(of: planned) == 1)
    }
}
