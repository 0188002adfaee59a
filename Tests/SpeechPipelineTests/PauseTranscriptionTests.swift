// Transcription started at the user's pause (vad.transcribeAtPause) must not change what the pipeline hears or
// answers: the transcript it keeps is of the very samples the utterance ends with.

import Foundation
import SpeechPipeline
import Testing

@Suite("Transcription at the pause", .serialized)
struct PauseTranscriptionTests {
    @Test("Transcribing at the pause hears and answers exactly what transcribing at the end does")
    func sameAnswers() async throws {
        let e2e = try EndToEndTests()
        // Two requests, the first with a pause inside it longer than the point where transcription starts early.
        let first = try await e2e.spoken("What time")
        let input =
            EndToEndTests.silence(1) + first + EndToEndTests.silence(0.4) + (try await e2e.spoken("is it?"))
            + EndToEndTests.silence(3) + (try EndToEndTests.recording("ljspeech_LJ001-0008.wav"))
            + EndToEndTests.silence(3)
        let early = try await e2e.run(input)
        let late = try await e2e.run(input) { $0.vad.transcribeAtPause = false }
        #expect(early.transcripts == late.transcripts)
        #expect(early.transcripts.count == 2, "\(early.events)")
        #expect(early.sentences.map(\.0) == late.sentences.map(\.0))
        #expect(early.states == late.states)
    }
}
