import Foundation
import Phonemizer
import Testing

/// Text to Piper's sentences through the system's espeak-ng; expected phonemes are piper-tts 1.8.0's
/// (research/piper.md §2 and scripts/reference/piper_phoneme_ids.py).
@Suite("espeak-ng phonemizer")
struct EspeakPhonemizerTests {
    let phonemizer = EspeakPhonemizer()

    func sentences(_ text: String, voice: String = "en-us") async throws -> [String] {
        try await phonemizer.phonemize(text, voice: voice).map(\.phonemes)
    }

    @Test("A text without punctuation ends its sentence with no dot")
    func noDot() async throws {
        #expect(try await sentences("Hello world") == ["həlˈoʊ wˈɜːld"])
        #expect(try await sentences("Hello world.") == ["həlˈoʊ wˈɜːld."])
    }

    @Test("Clause punctuation is re-attached and sentences split at . ? !")
    func terminators() async throws {
        #expect(
            try await sentences("Hello, world! How are you? Fine; thanks: ok") == [
                "həlˈoʊ, wˈɜːld!", "hˈaʊ ɑːɹ juː?", "fˈaɪn; θˈæŋks: ˌoʊkˈeɪ",
            ])
    }

    @Test("\"Dr.\" before a capital ends a sentence, as in piper-tts; $5.50 does not split")
    func abbreviationsAndMoney() async throws {
        #expect(
            try await sentences("Dr. Smith paid $5.50 for it.") == [
                "dˈɑːktɚ.", "smˈɪθ pˈeɪd dˈɑːlɚ fˈaɪv pɔɪnt fˈaɪv zˈiəɹoʊ fɔːɹ ɪt.",
            ])
    }

    @Test("A blank line ends a sentence, and takes the place of its dot")
    func paragraph() async throws {
        #expect(
            try await sentences("First paragraph.\n\nSecond paragraph") == ["fˈɜːst pˈæɹəɡɹˌæf", "sˈɛkənd pˈæɹəɡɹˌæf"])
    }

    @Test("Sentences are NFD")
    func decomposed() async throws {
        // "croissants" → kwˈɑːsɑ̃s: the nasal ɑ̃ comes out as ɑ + U+0303.
        let phonemes = try await sentences("croissants").joined()
        #expect(phonemes.unicodeScalars.contains("\u{303}"))
        #expect(phonemes.unicodeScalars.elementsEqual(phonemes.decomposedStringWithCanonicalMapping.unicodeScalars))
    }

    @Test("piper-tts's IPA by default; the installed espeak-ng's on request")
    func styles() async throws {
        #expect(try await sentences("The end. Four more.") == ["ðɪʲ ˈɛnd.", "fˈɔːɹ mˈɔːɹ."])
        let system = EspeakPhonemizer(style: .systemLibrary)
        #expect(
            try await system.phonemize("The end. Four more.", voice: "en-us").map(\.phonemes) == [
                "ðɪ ˈɛnd.", "fˈoːɹ mˈoːɹ.",
            ])
    }

    @Test("Empty or whitespace-only text is a typed error")
    func emptyText() async throws {
        for text in ["", "   ", "\n\t \n"] {
            do {
                _ = try await phonemizer.phonemize(text, voice: "en-us")
                Issue.record("expected emptyText for \(text.debugDescription)")
            } catch {
                #expect(error.code == .emptyText)
            }
        }
    }

    @Test("Text with nothing to pronounce gives no sentences")
    func punctuationOnly() async throws {
        #expect(try await sentences("?!") == [])
        #expect(try await sentences("...") == [])
    }

    @Test("An unknown voice is a typed error, and the phonemizer still works afterwards")
    func unknownVoice() async throws {
        do {
            _ = try await phonemizer.phonemize("Hello.", voice: "xx")
            Issue.record("expected unknownVoice")
        } catch {
            #expect(error.code == .unknownVoice)
            #expect(error.description.contains("xx"))
            #expect(error.detail?.isEmpty == false)
        }
        #expect(try await sentences("Hello.") == ["həlˈoʊ."])
    }

    @Test("Another voice, then back")
    func voices() async throws {
        let german = try await sentences("Guten Tag.", voice: "de")
        #expect(german.count == 1)
        #expect(german != (try await sentences("Guten Tag.")))
        #expect(try await sentences("Hello.") == ["həlˈoʊ."])
    }

    @Test("NUL and SOH characters are read as spaces")
    func controlCharacters() async throws {
        #expect(try await sentences("Hello\u{0}world") == ["həlˈoʊ wˈɜːld"])
        #expect(try await sentences("Hello\u{1}Vworld") == (try await sentences("Hello Vworld")))
    }

    @Test("Piper's ids for a text, one array per sentence")
    func phonemeIDs() async throws {
        let config = try Fixtures.joe.get()
        #expect(
            try await phonemizer.phonemeIDs(for: "Hi.", config: config) == [
                [1, 0, 20, 0, 120, 0, 14, 0, 74, 0, 10, 0, 2]
            ])
        let sentences = try await phonemizer.piperSentences(for: "Hi. Bye!", config: config)
        #expect(sentences.map { $0.phonemes.joined() } == ["hˈaɪ.", "bˈaɪ!"])
        #expect(sentences.allSatisfy { $0.skipped.isEmpty })
    }

    @Test("Unsupported phoneme types and empty text are refused by the id path")
    func idErrors() async throws {
        var config = try Fixtures.joe.get()
        do {
            _ = try await phonemizer.phonemeIDs(for: " ", config: config)
            Issue.record("expected emptyText")
        } catch {
            #expect(error.code == .emptyText)
        }
        config.phonemeType = "pinyin"
        do {
            _ = try await phonemizer.phonemeIDs(for: "ni hao", config: config)
            Issue.record("expected unsupportedPhonemeType")
        } catch {
            #expect(error.code == .unsupportedPhonemeType)
        }
    }

    @Test("phoneme_type text uses the text's own code points, NFD")
    func textPhonemeType() async throws {
        var config = try Fixtures.joe.get()
        config.phonemeType = "text"
        let sentences = try await phonemizer.piperSentences(for: "\u{E7}a.", config: config)
        #expect(sentences.map(\.phonemes) == [["c", "\u{327}", "a", "."]])
    }
}
