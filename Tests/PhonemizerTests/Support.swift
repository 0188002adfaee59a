// Fixtures shared by the Phonemizer tests: the joe voice's phoneme settings, the corpus and piper-tts's ids.

import Foundation
import Phonemizer

enum Fixtures {
    /// A file in Tests/PhonemizerTests/Fixtures.
    static func url(_ name: String) -> URL {
        Bundle.module.resourceURL!.appending(path: "Fixtures/\(name)")
    }

    /// The phonemization settings of en_US-joe-medium (its `.onnx.json`'s espeak voice and maps), as
    /// scripts/reference/piper_phoneme_ids.py copied them.
    static let joe: Result<PiperPhonemeConfig, PhonemizerError> = Result {
        () throws(PhonemizerError) -> PiperPhonemeConfig in
        try PiperPhonemeConfig.load(from: url("joe-phoneme-config.json"))
    }

    /// The corpus texts, one per line, with `\n` standing for a newline (as the reference script reads them).
    static func corpus() throws -> [String] {
        try String(contentsOf: url("corpus.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
            .filter { !$0.allSatisfy(\.isWhitespace) }
            .map { String($0).replacing("\\n", with: "\n") }
    }

    /// piper-tts 1.8.0's phonemes and ids for the corpus (Fixtures/piper-1.8.0-ids.json).
    struct Reference: Decodable {
        struct Line: Decodable {
            struct Sentence: Decodable {
                let phonemes: String
                let ids: [Int]
            }
            let text: String
            let sentences: [Sentence]
        }
        let piperTTS: String
        let espeakVoice: String
        let lines: [Line]

        private enum CodingKeys: String, CodingKey {
            case piperTTS = "piper_tts"
            case espeakVoice = "espeak_voice"
            case lines
        }
    }

    static func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url("piper-1.8.0-ids.json")))
    }
}
