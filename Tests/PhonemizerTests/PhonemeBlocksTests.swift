import Testing

@testable import Phonemizer

/// Raw phonemes in [[ ... ]], split and joined as piper1-gpl's PiperVoice.phonemize does. Expected sentences are
/// piper-tts 1.8.0's.
@Suite("Raw phoneme blocks")
struct PhonemeBlocksTests {
    @Test("The text splits like re.split(r\"(\\[\\[.*?\\]\\])\", text)")
    func split() {
        #expect(
            PhonemeBlocks.split("Say [[ hɛˈloʊ ]] to everyone.") == [
                .text("Say "), .raw("[[ hɛˈloʊ ]]"), .text(" to everyone."),
            ])
        #expect(PhonemeBlocks.split("[[a]][[b]]") == [.text(""), .raw("[[a]]"), .text(""), .raw("[[b]]"), .text("")])
        #expect(
            PhonemeBlocks.split("An unclosed [[ bracket stays text.") == [.text("An unclosed [[ bracket stays text.")])
        // The regex's "." does not match a newline.
        #expect(PhonemeBlocks.split("a [[ b\nc ]] d") == [.text("a [[ b\nc ]] d")])
        #expect(PhonemeBlocks.split("[[[x]]]") == [.text(""), .raw("[[[x]]"), .text("]")])
        // A text part that starts with "[[" is taken as raw, as Piper's startswith("[[") takes it.
        #expect(PhonemeBlocks.split("[[a\n[[b]]") == [.raw("[[a\n"), .raw("[[b]]"), .text("")])
        #expect(PhonemeBlocks.split("x [[]] y") == [.text("x "), .raw("[[]]"), .text(" y")])
    }

    @Test("A raw block is stripped and taken one code point per phoneme, without NFD")
    func rawPhonemes() {
        #expect(
            PhonemeBlocks.rawPhonemes("[[ bɹˈuːs wˈeɪn ]]") == [
                "b", "ɹ", "ˈ", "u", "ː", "s", " ", "w", "ˈ", "e", "ɪ", "n",
            ])
        #expect(PhonemeBlocks.rawPhonemes("[[\u{E7}]]") == ["\u{E7}"])
        #expect(PhonemeBlocks.rawPhonemes("[[]]").isEmpty)
    }

    /// The sentences of `text` with a stand-in phonemizer: each text part is one sentence of its characters
    /// (or none when empty), "|" in a text part ending a sentence.
    static func sentences(_ text: String) -> [String] {
        let parts = PhonemeBlocks.split(text)
        let sentences = PhonemeBlocks.sentences(of: parts) { (part: String) -> [[String]] in
            let pieces = part.split(separator: "|", omittingEmptySubsequences: false)
            return pieces.map { $0.unicodeScalars.map { String($0) } }
        }
        return sentences.map { $0.joined() }
    }

    @Test("Raw blocks join the sentence around them, with the spaces beside them")
    func joining() {
        #expect(Self.sentences("Say [[ x ]] now") == ["Say  x  now"])
        #expect(Self.sentences("a|b [[ x ]]|c") == ["a", "b  x", "c"])
        #expect(Self.sentences("[[ x ]]") == ["x"])
        #expect(Self.sentences("[[ x ]][[ y ]]") == ["xy"])
        #expect(Self.sentences("[[ x ]] [[ y ]]") == ["x   y"])
    }

    @Test("With espeak-ng: piper-tts's sentences for raw phonemes")
    func withEspeak() async throws {
        let phonemizer = EspeakPhonemizer()
        let config = try Fixtures.joe.get()
        func sentences(_ text: String) async throws -> [String] {
            try await phonemizer.piperSentences(for: text, config: config).map { $0.phonemes.joined() }
        }
        #expect(try await sentences("Say [[ hɛˈloʊ ]] to everyone.") == ["sˈeɪ hɛˈloʊ tʊ ˈɛvɹɪwˌʌn."])
        #expect(try await sentences("[[ a ]]. Hello. World") == ["ahəlˈoʊ.", "wˈɜːld"])
        #expect(try await sentences("[[ bɹˈuːs ]] [[ wˈeɪn ]]") == ["bɹˈuːs  wˈeɪn"])
        #expect(try await sentences("End [[ ˈɛnd ]]") == ["ˈɛnd ˈɛnd"])
        #expect(try await sentences("Hello. [[ x ]]") == ["həlˈoʊ. x"])
        // Raw phonemes keep their code points: the precomposed ç (id 40), not c + cedilla.
        let ids = try await phonemizer.phonemeIDs(for: "[[\u{E7}]]", config: config)
        #expect(ids == [[1, 0, 40, 0, 2]])
    }
}
