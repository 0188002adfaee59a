// Endpointing on synthetic frames: probabilities chosen per window, samples that say which window they came from.

import Foundation
import SpeechPipeline
import Testing

@Suite("Endpointer")
struct EndpointerTests {
    /// 0.1 s to start, 0.3 s pre-roll, 0.5 s of silence to end, 2 s at most (windows of 512 samples = 32 ms).
    static var settings: PipelineConfiguration.VADSettings {
        var s = PipelineConfiguration.VADSettings()
        s.minSpeech = 0.1
        s.preRoll = 0.3
        s.silence = 0.5
        s.maxUtterance = 2
        return s
    }

    /// Runs windows with the given probabilities; each window's samples hold its index.
    static func run(_ probabilities: [Float], endpointer: inout Endpointer) -> [(window: Int, event: EndpointEvent)] {
        var events: [(Int, EndpointEvent)] = []
        for (i, p) in probabilities.enumerated() {
            let window = [Float](repeating: Float(i), count: endpointer.windowSamples)
            if let event = endpointer.process(window[...], probability: p) { events.append((i, event)) }
        }
        return events
    }

    @Test("Speech starts after the minimum run, keeps its pre-roll and ends after the silence")
    func utterance() throws {
        var endpointer = Endpointer(settings: Self.settings)
        #expect(endpointer.minSpeechWindows == 4)  // ceil(0.1 / 0.032)
        #expect(endpointer.silenceWindows == 16)  // ceil(0.5 / 0.032)
        // 20 silent windows, a blip, 10 silent, 30 of speech, 40 silent.
        let p: [Float] =
            Array(repeating: 0, count: 20) + [0.9] + Array(repeating: 0.1, count: 10)
            + Array(repeating: 0.8, count: 30) + Array(repeating: 0.05, count: 40)
        let events = Self.run(p, endpointer: &endpointer)
        #expect(events.count == 3)
        // The blip (one window) did not start anything; speech starts at window 31, confirmed at window 34.
        guard case .speechStarted(let onset) = events[0].event else {
            Issue.record("no start")
            return
        }
        #expect(events[0].window == 34)
        #expect(onset == 31 * 512)
        guard case .pause(let early) = events[1].event, case .utterance(let u) = events[2].event else {
            Issue.record("no pause and utterance: \(events)")
            return
        }
        // Ended by 16 silent windows after the last speech window (60): at window 76. The pause came once the
        // 6 windows of silence an utterance keeps had passed, with the very samples of the utterance.
        #expect(events[2].window == 76)
        #expect(events[1].window == 66)
        #expect(early == u)
        #expect(!u.truncated)
        // Pre-roll: 0.3 s = 4800 samples (9.4 windows) before the onset.
        #expect(u.start == 35 * 512 - (4800 + 4 * 512))
        #expect(u.samples.first! <= 22)
        #expect(u.samples.contains(31) && u.samples.contains(60))
        // Most trailing silence dropped: 6 windows kept.
        #expect(u.samples.last == 66)
        #expect(u.end == u.start + u.samples.count)
    }

    @Test("Short dips do not end an utterance; hysteresis keeps it going")
    func hysteresis() {
        var settings = Self.settings
        settings.maxUtterance = 10
        var endpointer = Endpointer(settings: settings)
        // Speech with dips to 0.4 (below the threshold but above threshold − 0.15) and short real pauses.
        var p: [Float] = Array(repeating: 0.9, count: 10)
        for _ in 0..<3 { p += Array(repeating: 0.4, count: 20) + Array(repeating: 0.0, count: 10) + [0.9, 0.9] }
        p += Array(repeating: 0, count: 20)
        let events = Self.run(p, endpointer: &endpointer).map(\.event)
        let utterances = events.filter { if case .utterance = $0 { true } else { false } }
        #expect(utterances.count == 1)
    }

    @Test("Speech after a pause makes the pause's samples stale: the utterance goes on past them")
    func pauseThenSpeech() {
        var endpointer = Endpointer(settings: Self.settings)
        let p: [Float] =
            Array(repeating: 0.9, count: 10) + Array(repeating: 0, count: 8) + Array(repeating: 0.9, count: 10)
            + Array(repeating: 0, count: 20)
        let events = Self.run(p, endpointer: &endpointer).map(\.event)
        let pauses = events.compactMap { if case .pause(let u) = $0 { u } else { nil } }
        let utterances = events.compactMap { if case .utterance(let u) = $0 { u } else { nil } }
        #expect(pauses.count == 2)
        #expect(utterances.count == 1)
        #expect(pauses.first != utterances.first)
        #expect(pauses.last == utterances.first)
    }

    @Test("An utterance is cut at the maximum length, and speech goes on as the next one")
    func maximumLength() {
        var endpointer = Endpointer(settings: Self.settings)
        let events = Self.run(
            Array(repeating: 0.9, count: 100) + Array(repeating: 0, count: 20), endpointer: &endpointer)
        let utterances = events.compactMap { if case .utterance(let u) = $0.event { u } else { nil } }
        #expect(utterances.count == 2)
        #expect(utterances[0].truncated)
        #expect(utterances[0].samples.count >= 32_000)
        #expect(!utterances[1].truncated)
    }

    @Test("Silence and reset produce nothing")
    func silence() {
        var endpointer = Endpointer(settings: Self.settings)
        #expect(Self.run(Array(repeating: 0.2, count: 200), endpointer: &endpointer).isEmpty)
        _ = Self.run(Array(repeating: 0.9, count: 10), endpointer: &endpointer)
        #expect(endpointer.inSpeech)
        endpointer.reset()
        #expect(!endpointer.inSpeech)
        #expect(Self.run(Array(repeating: 0, count: 40), endpointer: &endpointer).isEmpty)
    }

    @Test("The listener cuts chunks of any size into windows and finds a tone in silence")
    func listenerWithEnergyGate() throws {
        var listener = Listener(detector: EnergySpeechDetector(), settings: Self.settings)
        let silence = [Float](repeating: 0.0005, count: 16_000)
        let tone = (0..<16_000).map { i -> Float in
            let phase = Double(i) * 2 * Double.pi * 220 / 16_000
            return Float(0.3 * sin(phase))
        }
        let audio = silence + tone + silence
        var events: [EndpointEvent] = []
        for start in stride(from: 0, to: audio.count, by: 320) {
            events += try listener.feed(Array(audio[start..<min(start + 320, audio.count)]))
        }
        #expect(events.count == 3)
        guard case .speechStarted(let onset) = events.first, case .utterance(let u) = events.last else {
            Issue.record("expected a start and an utterance, got \(events)")
            return
        }
        #expect(abs(onset - 16_000) <= 512)
        #expect(u.samples.count > 16_000)
    }
}
