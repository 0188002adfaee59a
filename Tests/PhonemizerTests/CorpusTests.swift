import Foundation
import Testing

@testable import Phonemizer

/// Hark's phoneme ids against piper-tts 1.8.0's on the corpus (Fixtures/corpus.txt, reference ids from
/// scripts/reference/piper_phoneme_ids.py in Fixtures/piper-1.8.0-ids.json). piper-tts bundles a 2026 espeak-ng
/// whose English dictionary differs from Debian's 1.51 in a few words; the sentences that differ, and why, are
/// listed in Fixtures/known-differences.md.
@Suite("Corpus against piper-tts 1.8.0")
struct CorpusTests {
    /// The share of sentences whose ids must equal piper-tts's.
    static let requiredMatchRate = 0.95

    @Test("Hark's ids equal piper-tts 1.8.0's for at least 95 % of the corpus's sentences")
    func corpus() async throws {
        let config = try Fixtures.joe.get()
        let reference = try Fixtures.reference()
        let texts = try Fixtures.corpus()
        #expect(reference.piperTTS == "1.8.0")
        #expect(reference.espeakVoice == config.espeakVoice)
        #expect(texts == reference.lines.map(\.text), "the corpus and the reference fixture disagree")
        #expect(texts.count >= 200)

        let phonemizer = EspeakPhonemizer()
        var total = 0
        var matching = 0
        var differences: [(text: String, detail: String)] = []
        for line in reference.lines {
            let sentences = try await phonemizer.piperSentences(for: line.text, config: config)
            total += line.sentences.count
            guard sentences.count == line.sentences.count else {
                differences.append(
                    (line.text, "\(sentences.count) sentences, piper-tts has \(line.sentences.count)"))
                continue
            }
            for (hark, piper) in zip(sentences, line.sentences) {
                if hark.ids == piper.ids {
                    matching += 1
                } else {
                    differences.append((line.text, "Hark \(hark.phonemes.joined()) / piper-tts \(piper.phonemes)"))
                }
            }
        }
        let rate = Double(matching) / Double(max(total, 1))
        // Each differing line should be named in known-differences.md (with newlines written \n, as in the corpus).
        let listed = try String(contentsOf: Fixtures.url("known-differences.md"), encoding: .utf8)
        let unlisted = differences.filter { !listed.contains($0.text.replacing("\n", with: "\\n")) }
        let report = differences.map { "\($0.text.debugDescription): \($0.detail)" }
        let summary =
            "\(matching)/\(total) sentences match piper-tts 1.8.0 (\(String(format: "%.1f", 100 * rate)) %), "
            + "\(differences.count) differ, \(unlisted.count) of them not in known-differences.md"
        if rate < Self.requiredMatchRate {
            Issue.record("\(summary):\n\(report.joined(separator: "\n"))")
        } else {
            let notListed = unlisted.map { "not in known-differences.md: \($0.text.debugDescription): \($0.detail)" }
            print((["Phonemizer corpus: \(summary)"] + notListed).joined(separator: "\n"))
        }
    }

    @Test("The clause reader follows espeak-ng on every corpus line (no clause needs the text-pointer fallback)")
    func clauseReaderFollowsEspeak() async throws {
        let phonemizer = EspeakPhonemizer()
        for text in try Fixtures.corpus() {
            let assembly = try await phonemizer.espeakSentences(text, voice: "en-us")
            #expect(assembly.resynchronizations == 0, "\(text.debugDescription)")
        }
    }
}
