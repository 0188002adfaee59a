import Phonemizer
import Testing

/// Piper's phoneme-to-id rule (piper1-gpl phoneme_ids.py) with the joe voice's own map.
@Suite("Piper phoneme ids")
struct PiperPhonemeIDsTests {
    static func joeRules() throws -> PiperPhonemeIDs {
        try PiperPhonemeIDs(config: Fixtures.joe.get())
    }

    @Test("The joe voice's settings decode from its .onnx.json keys")
    func joeConfig() throws {
        let config = try Fixtures.joe.get()
        #expect(config.espeakVoice == "en-us")
        #expect(config.phonemeType == "espeak")
        #expect(config.phonemeMap.isEmpty)
        #expect(config.phonemeIDMap.count == 151)
        #expect(config.phonemeIDMap["ˈ"] == [120])
    }

    @Test("\"Hi.\" is ^ _ (p _)* $ through the voice's map")
    func hi() throws {
        let rules = try Self.joeRules()
        let phonemes = rules.phonemes(fromIPA: "hˈaɪ.")
        #expect(phonemes == ["h", "ˈ", "a", "ɪ", "."])
        let ids = rules.ids(for: phonemes)
        #expect(ids.ids == [1, 0, 20, 0, 120, 0, 14, 0, 74, 0, 10, 0, 2])
        #expect(ids.skipped.isEmpty)
    }

    @Test("No phonemes is just ^ _ $")
    func empty() throws {
        #expect(try Self.joeRules().ids(for: []).ids == [1, 0, 2])
    }

    @Test("IPA is decomposed to NFD, one phoneme per code point")
    func nfd() throws {
        let rules = try Self.joeRules()
        // ç (U+00E7) becomes c + U+0327 (cedilla, id 140), though the map also has the precomposed ç (id 40).
        #expect(rules.phonemes(fromIPA: "\u{E7}a") == ["c", "\u{327}", "a"])
        #expect(rules.ids(forIPA: "\u{E7}").ids == [1, 0, 16, 0, 140, 0, 2])
        // Already decomposed input gives the same.
        #expect(rules.ids(forIPA: "c\u{327}").ids == [1, 0, 16, 0, 140, 0, 2])
    }

    @Test("Phonemes the map lacks are skipped and reported")
    func unknownPhonemes() throws {
        let rules = try Self.joeRules()
        // é decomposes to e + U+0301, which joe's map lacks; ɝ is not in it either.
        let ids = rules.ids(forIPA: "\u{E9}ɝa")
        #expect(ids.ids == [1, 0, 18, 0, 14, 0, 2])
        #expect(ids.skipped == ["\u{301}", "ɝ"])
    }

    @Test("Phonemes are compared code point by code point")
    func codePointIdentity() throws {
        // Piper keeps raw phonemes as typed: the precomposed ç has its own id, and the Greek question mark
        // (U+037E, canonically equivalent to ";") is not ";".
        let rules = try Self.joeRules()
        let ids = rules.ids(for: ["\u{E7}", "\u{37E}", ";"])
        #expect(ids.ids == [1, 0, 40, 0, 12, 0, 2])
        #expect(ids.skipped == ["\u{37E}"])
    }

    @Test("phoneme_map replaces code points before the lookup")
    func phonemeMap() throws {
        let rules = try PiperPhonemeIDs(
            phonemeIDMap: ["^": [1], "_": [0], "$": [2], "k": [23], "a": [14], "s": [31]],
            phonemeMap: ["c": ["k"], "x": ["k", "s"]])
        #expect(rules.phonemes(fromIPA: "cax") == ["k", "a", "k", "s"])
        #expect(rules.ids(forIPA: "ca").ids == [1, 0, 23, 0, 14, 0, 2])
    }

    @Test("Vowel clusters merge the longest run first")
    func vowelClusters() throws {
        let rules = try PiperPhonemeIDs(
            phonemeIDMap: ["^": [1], "_": [0], "$": [2], "a": [14], "ɪ": [74], "aɪ": [161], "aɪə": [170], "ə": [59]],
            vowelClusters: [["a", "ɪ"], ["a", "ɪ", "ə"]])
        #expect(rules.phonemes(fromIPA: "aɪəaɪa") == ["aɪə", "aɪ", "a"])
        #expect(rules.ids(forIPA: "aɪ").ids == [1, 0, 161, 0, 2])
    }

    @Test("Several ids per phoneme are all emitted, each phoneme followed by the pad")
    func multipleIDs() throws {
        let rules = try PiperPhonemeIDs(phonemeIDMap: ["^": [1], "_": [0], "$": [2], "a": [5, 6]])
        #expect(rules.ids(forIPA: "aa").ids == [1, 0, 5, 6, 0, 5, 6, 0, 2])
    }

    @Test("A map without ^, _ or $ is refused")
    func missingSpecialIDs() {
        #expect(throws: PhonemizerError.self) { try PiperPhonemeIDs(phonemeIDMap: ["^": [1], "_": [0]]) }
        do {
            _ = try PiperPhonemeIDs(phonemeIDMap: ["a": [1]])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidVoiceConfig)
        }
    }
}
