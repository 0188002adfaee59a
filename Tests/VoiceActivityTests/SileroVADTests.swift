import AudioIO
import Compute
import Foundation
import ModelStore
import Testing
import VoiceActivity

/// Silero VAD on Hark's engine against onnxruntime on the same ONNX file, and the speech chunking against
/// faster-whisper's get_speech_timestamps. Reference: scripts/reference/vad_reference.py
/// (Fixtures/silero-16k.json, probabilities rounded to 5 decimals).
@Suite("Silero VAD against onnxruntime and faster-whisper", .serialized)
struct SileroVADTests {
    struct Reference: Decodable {
        struct Clip: Decodable {
            let clip: String
            let samples: Int
            let probabilities: [Float]
            let chunks: [[Int]]
        }
        let clips: [Clip]
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func reference() throws -> Reference {
        try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: root.appending(path: "Fixtures/silero-16k.json")))
    }

    /// The samples of a test clip (16 kHz mono), read with AudioIO.
    static func samples(_ name: String) throws -> [Float] {
        let url = root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "shared/testdata/speech/\(name)")
        return try SoundFile.read(path: url.path).samples
    }

    @Test("chunking the reference probabilities gives faster-whisper's chunks")
    func chunking() throws {
        for clip in try Self.reference().clips {
            let chunks = SpeechTimestamps.chunks(probabilities: clip.probabilities, sampleCount: clip.samples)
            #expect(chunks.map { [$0.start, $0.end] } == clip.chunks, "\(clip.clip)")
        }
    }

    @Test("speech probabilities equal onnxruntime's to 1e-4 on every clip; the chunks are the same")
    func probabilities() throws {
        let path = try ModelStore().installedModel(named: "silero-vad-16k").location.path
        let vad = try SileroVAD(path: path, engine: ComputeEngine())
        for clip in try Self.reference().clips {
            let audio = try Self.samples(clip.clip)
            let p = try vad.probabilities(audio)
            #expect(p.count == clip.probabilities.count)
            let worst = zip(p, clip.probabilities).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4, "\(clip.clip): max |Δ| \(worst)")
            let chunks = SpeechTimestamps.chunks(probabilities: p, sampleCount: audio.count)
            #expect(chunks.map { [$0.start, $0.end] } == clip.chunks, "\(clip.clip)")
        }
    }

    @Test("times in the concatenated speech map back to the original audio")
    func timeMap() {
        let chunks = [SpeechChunk(start: 16_000, end: 32_000), SpeechChunk(start: 48_000, end: 64_000)]
        let map = SpeechTimeMap(chunks: chunks)
        #expect(map.originalTime(0) == 1)
        #expect(map.originalTime(0.5) == 1.5)
        #expect(map.originalTime(1, isEnd: true) == 2)
        #expect(map.originalTime(1) == 3)
        #expect(map.originalTime(2, isEnd: true) == 4)
        let samples = (0..<64_000).map(Float.init)
        let collected = SpeechTimeMap.collect(samples, chunks: chunks)
        #expect(collected.count == 32_000 && collected[0] == 16_000 && collected[16_000] == 48_000)
    }
}
