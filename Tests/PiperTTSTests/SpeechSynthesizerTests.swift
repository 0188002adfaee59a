import Foundation
import Phonemizer
import PiperTTS
import Testing

/// The speech pipeline on the default voice: text → sentences → encoder stage → decoder stage → chunks. With noise 0
/// everything is deterministic, so the stream is compared with one-shot synthesis of the same sentences.
@Suite("Speech pipeline")
struct SpeechSynthesizerTests {
    static let text =
        "The quick brown fox jumps over the lazy dog. Is it raining in Paris today? Yes, and it will rain tomorrow!"

    /// A synthesizer on the default voice.
    static let synthesizer: Result<SpeechSynthesizer, any Error> = Result {
        try SpeechSynthesizer(voice: try PiperTestSupport.voice.get())
    }

    /// Deterministic options: noise 0, small chunks so that each sentence is cut into several.
    static func quietOptions(silence: Double = 0.2, volume: Float = 1) -> SpeechOptions {
        SpeechOptions(
            parameters: PiperSynthesisParameters(noiseScale: 0, lengthScale: 1, noiseW: 0), sentenceSilence: silence,
            volume: volume, firstChunkFrames: 16, maximumChunkFrames: 64)
    }

    static func collect(_ stream: AsyncThrowingStream<SpeechChunk, any Error>) async throws -> [SpeechChunk] {
        var chunks: [SpeechChunk] = []
        for try await chunk in stream { chunks.append(chunk) }
        return chunks
    }

    @Test("the chunks, joined, equal one-shot synthesis of each sentence followed by its silence")
    func chunksEqualOneShot() async throws {
        let synthesizer = try Self.synthesizer.get()
        let voice = synthesizer.voice
        let sentences = try await synthesizer.sentences(for: Self.text)
        #expect(sentences.count == 3)
        let options = Self.quietOptions()
        let chunks = try await Self.collect(synthesizer.speak(sentences, options: options))

        let silence = [Float](repeating: 0, count: 4410)  // 0.2 s at 22.05 kHz
        var expected: [Float] = []
        for sentence in sentences {
            expected += try voice.synthesize(ids: sentence.ids, parameters: options.parameters).samples + silence
        }
        let joined = chunks.flatMap(\.samples)
        #expect(joined.count == expected.count)
        let (maxError, _) = PiperTestSupport.compare(joined, expected)
        #expect(maxError <= 1e-5, "max |Δ| \(maxError)")

        // In order, sentence by sentence, each sentence's speech in several chunks and then its silence; the first
        // chunk of the text is the small one.
        let hop = voice.architecture.hopLength
        #expect(chunks.map(\.sentence) == chunks.map(\.sentence).sorted())
        #expect(chunks.first?.samples.count == 16 * hop)
        for index in sentences.indices {
            let mine = chunks.filter { $0.sentence == index }
            #expect(mine.count >= 3 && mine.last?.isSilence == true && mine.dropLast().allSatisfy { !$0.isSilence })
            #expect(mine.last?.samples == silence)
            #expect(mine.allSatisfy { $0.sampleRate == 22_050 })
        }
        // Every stage's time is accounted for once per sentence.
        var timings = PiperTimings()
        for chunk in chunks { timings.add(chunk.timings) }
        #expect(timings.textEncoder > .zero && timings.flow > .zero && timings.decoder > .zero)
    }

    @Test("with noise, the chunks equal one-shot synthesis of sentence i with seed + i")
    func chunksWithNoise() async throws {
        let synthesizer = try Self.synthesizer.get()
        let sentences = try await synthesizer.sentences(for: Self.text)
        var options = synthesizer.defaultOptions
        options.parameters.seed = 7
        options.sentenceSilence = 0
        let joined = try await Self.collect(synthesizer.speak(sentences, options: options)).flatMap(\.samples)
        var expected: [Float] = []
        for (i, sentence) in sentences.enumerated() {
            var parameters = options.parameters
            parameters.seed = 7 + UInt64(i)
            expected += try synthesizer.voice.synthesize(ids: sentence.ids, parameters: parameters).samples
        }
        #expect(joined.count == expected.count)
        let (maxError, _) = PiperTestSupport.compare(joined, expected)
        #expect(maxError <= 1e-5, "max |Δ| \(maxError)")
    }

    @Test("sentence silence: that many seconds of zeros after each sentence, the last included")
    func sentenceSilence() async throws {
        let synthesizer = try Self.synthesizer.get()
        let sentences = try await synthesizer.sentences(for: Self.text)
        let none = try await Self.collect(synthesizer.speak(sentences, options: Self.quietOptions(silence: 0)))
        let half = try await Self.collect(synthesizer.speak(sentences, options: Self.quietOptions(silence: 0.5)))
        #expect(none.allSatisfy { !$0.isSilence })
        let silent = half.filter(\.isSilence)
        #expect(silent.count == sentences.count)
        #expect(silent.allSatisfy { $0.samples.count == 11_025 && $0.samples.allSatisfy { $0 == 0 } })
        #expect(half.flatMap(\.samples).count == none.flatMap(\.samples).count + sentences.count * 11_025)
        #expect(half.filter { !$0.isSilence }.flatMap(\.samples) == none.flatMap(\.samples))
    }

    @Test("volume scales the samples and clips them to [−1, 1]; there is no normalisation")
    func volume() async throws {
        let synthesizer = try Self.synthesizer.get()
        let text = "Loud and clear."
        let plain = try await synthesizer.synthesize(text, options: Self.quietOptions(silence: 0)).samples
        let half = try await synthesizer.synthesize(text, options: Self.quietOptions(silence: 0, volume: 0.5)).samples
        let loud = try await synthesizer.synthesize(text, options: Self.quietOptions(silence: 0, volume: 20)).samples
        #expect(plain.count == half.count && plain.count == loud.count)
        #expect(zip(plain, half).allSatisfy { abs($0 * 0.5 - $1) <= 1e-6 })
        #expect(loud.allSatisfy { abs($0) <= 1 } && loud.contains(1) && loud.contains(-1))
        #expect(plain.map(abs).max()! < 1)
    }

    @Test("empty or whitespace text, or text with nothing to pronounce, is an invalid-input error")
    func emptyText() async throws {
        let synthesizer = try Self.synthesizer.get()
        for text in ["", "   \n\t "] {
            await #expect(throws: PiperError.self) { _ = try await synthesizer.sentences(for: text) }
            do {
                _ = try await Self.collect(synthesizer.speak(text, options: synthesizer.defaultOptions))
                Issue.record("no error for \(text.debugDescription)")
            } catch let error as PiperError {
                #expect(error.code == .invalidInput)
                #expect(error.description.contains("empty"))
            }
        }
        do {
            _ = try await synthesizer.sentences(for: "... ?")
            Issue.record("no error for text with nothing to pronounce")
        } catch {
            #expect(error.code == .invalidInput)
        }
    }

    @Test("bad options are an error of the stream")
    func badOptions() async throws {
        let synthesizer = try Self.synthesizer.get()
        var options = synthesizer.defaultOptions
        options.volume = -1
        await #expect(throws: PiperError.self) {
            _ = try await Self.collect(synthesizer.speak("Hello.", options: options))
        }
    }

    @Test("a stream dropped after its first chunk stops its pipeline, and the synthesizer goes on working")
    func droppedStream() async throws {
        let synthesizer = try Self.synthesizer.get()
        for _ in 0..<3 {
            for try await chunk in synthesizer.speak(Self.text, options: Self.quietOptions()) {
                #expect(!chunk.samples.isEmpty)
                break
            }
        }
        let task = Task { try await Self.collect(synthesizer.speak(Self.text, options: Self.quietOptions())) }
        task.cancel()
        _ = try? await task.value
        let audio = try await synthesizer.synthesize("Still here.", options: Self.quietOptions())
        #expect(audio.samples.count > 22_050 / 2)
    }

    @Test("default scales come from the voice's config; sentences use successive seeds")
    func defaults() async throws {
        let synthesizer = try Self.synthesizer.get()
        let inference = synthesizer.voice.config.inference
        #expect(synthesizer.defaultOptions.parameters.noiseScale == inference.noiseScale)
        #expect(synthesizer.defaultOptions.parameters.noiseW == inference.noiseW)
        #expect(synthesizer.defaultOptions.sentenceSilence == 0.2)
        // The same text twice with the same seed gives the same audio.
        let a = try await synthesizer.synthesize("Same again.", options: synthesizer.defaultOptions)
        let b = try await synthesizer.synthesize("Same again.", options: synthesizer.defaultOptions)
        #expect(a.samples == b.samples)
    }
}
