import Testing

@testable import Phonemizer

/// The port of espeak-ng's ReadClause, without espeak-ng: where clauses end and what Piper appends to them.
@Suite("Clause reader")
struct ClauseReaderTests {
    /// Each clause's punctuation and whether it ends a sentence.
    static func clauses(_ text: String) -> [(String, Bool)] {
        var reader = ClauseReader(text)
        var clauses: [(String, Bool)] = []
        while !reader.isFinished {
            let end = reader.readClause()
            clauses.append((end.punctuation, end.endsSentence))
        }
        return clauses
    }

    static func expect(_ text: String, _ expected: [(String, Bool)], sourceLocation: SourceLocation = #_sourceLocation)
    {
        let clauses = Self.clauses(text)
        #expect(
            clauses.map(\.0) == expected.map(\.0) && clauses.map(\.1) == expected.map(\.1),
            "\(text.debugDescription): \(clauses)", sourceLocation: sourceLocation)
    }

    @Test("Piper's example: commas, questions, semicolons and colons, and no dot at the end")
    func piperExample() {
        Self.expect(
            "Hello, world! How are you? Fine; thanks: ok",
            [(",", false), ("!", true), ("?", true), (";", false), (":", false), ("", true)])
    }

    @Test("The end of the text ends the sentence without punctuation")
    func endOfText() {
        Self.expect("Hello world", [("", true)])
        Self.expect("Hello world.", [(".", true)])
        Self.expect("Hello world.   ", [(".", true)])
    }

    @Test("A dot ends a clause before a capital, not before a lower-case word or inside a number")
    func dots() {
        // espeak-ng's clause reader knows no abbreviations: "Dr." before a capital ends a sentence (piper-tts too).
        Self.expect("Dr. Smith paid $5.50 for it.", [(".", true), (".", true)])
        Self.expect("e.g. this works.", [(".", true)])
        Self.expect("Mr. Jones arrived at 3 p.m. yesterday.", [(".", true), (".", true)])
        Self.expect("The U.S.A.'s economy grew.", [(".", true)])
        Self.expect("Pi is 3.14159.", [(".", true)])
    }

    @Test("A blank line ends a sentence; a single newline does not")
    func paragraphs() {
        Self.expect("First paragraph.\n\nSecond paragraph", [("", true), ("", true)])
        Self.expect("No punctuation\n\nnew paragraph", [("", true), ("", true)])
        Self.expect("A question?\n\nAn answer.", [("", true), (".", true)])
        Self.expect("The first line.\nThe second line.", [(".", true), (".", true)])
        Self.expect("one\ntwo", [("", true)])
    }

    @Test("An ellipsis ends a clause but appends nothing and ends no sentence")
    func ellipsis() {
        Self.expect("Wait... what?", [("", false), ("?", true)])
        Self.expect("Wait… what?", [("", false), ("?", true)])
        // Two dots are read one by one: the second is swallowed as a run, and the first is a plain full stop.
        Self.expect("Hmm.. Fine.", [(".", true), (".", true)])
        Self.expect("Hmm.. fine.", [(".", true)])
    }

    @Test("Runs of punctuation count as their first mark")
    func runs() {
        Self.expect("Wow!! Really?!", [("!", true), ("?", true)])
        Self.expect("What?! No way!", [("?", true), ("!", true)])
        Self.expect("Apples, pears, etc., and more.", [(",", false), (",", false), (".", true)])
    }

    @Test("Punctuation followed by a quote or bracket ends the clause")
    func quotesAndBrackets() {
        Self.expect("He asked, \"Why not?\" and left.", [(",", false), ("?", true), (".", true)])
        Self.expect("(This is in parentheses.)", [(".", true), ("", true)])
        Self.expect("It’s mine — not yours.", [(";", false), (".", true)])
    }

    @Test("Punctuation inside a word or before a digit ends nothing")
    func inWord() {
        Self.expect("It is 10:30 and 3,5 and a.b now.", [(".", true)])
        Self.expect("Visit https://example.org today.", [(".", true)])
    }

    @Test("Text with no letters or digits before the punctuation ends no clause there")
    func noAlphanumerics() {
        Self.expect("... hello.", [(".", true)])
        Self.expect("?", [("", true)])
    }

    @Test("A clause too long for espeak-ng's 800-byte buffer ends at a word boundary with nothing appended")
    func longClause() {
        let text = Array(repeating: "word", count: 200).joined(separator: " ")
        let clauses = Self.clauses(text)
        #expect(clauses.count == 2)
        #expect(clauses.first.map { $0.0 == "" && !$0.1 } == true)
        #expect(clauses.last.map { $0.0 == "" && $0.1 } == true)
    }

    @Test("The reader's position is espeak-ng's text pointer: one character past the clause, held back")
    func positions() {
        var reader = ClauseReader("Hello, world! Bye")
        _ = reader.readClause()
        #expect(reader.position == 8)  // "Hello, w": the "w" is read ahead and held back
        _ = reader.readClause()
        #expect(reader.position == 15)  // "orld! B"
        _ = reader.readClause()
        #expect(reader.isFinished)
    }

    @Test("The fallback reads a clause's end off the characters espeak-ng consumed")
    func fallback() {
        func end(_ text: String, to position: Int, finished: Bool = false) -> (String, Bool) {
            let characters = text.unicodeScalars.map(\.value) + [0]
            let end = EspeakSentences.clauseEnd(characters, from: 0, to: position, finished: finished)
            return (end.punctuation, end.endsSentence)
        }
        #expect(end("Hello, world", to: 8) == (",", false))  // "Hello, w": the "w" is the look-ahead
        #expect(end("Hello!  World", to: 9) == ("!", true))
        #expect(end("Hello\n\nWorld", to: 8) == ("", true))
        #expect(end("Hello world", to: 12, finished: true) == ("", true))
        #expect(end("Hello world and", to: 12) == ("", false))
    }

    @Test("Language-switch flags are removed like Python's re.sub(r\"\\([^)]+\\)\", \"\", s)")
    func languageFlags() {
        #expect(EspeakSentences.removingLanguageFlags("(fr)bɔ̃ʒuʁ(en) wˈɜːld") == "bɔ̃ʒuʁ wˈɜːld")
        #expect(EspeakSentences.removingLanguageFlags("a()b") == "a()b")
        #expect(EspeakSentences.removingLanguageFlags("a((en)b") == "ab")
        #expect(EspeakSentences.removingLanguageFlags("a(b") == "a(b")
    }

    @Test("The IPA rewrite: linking j after i-vowels, the en-US horse–hoarse merger, the flap")
    func ipaRewrite() {
        let s = "\u{E000}"
        // "the end": ð ɪ ; | ˈɛ n d — the `;` is written as nothing by espeak-ng 1.51.
        #expect(
            EspeakIPARewriter.rewrite(
                ipa: "ð\(s)ɪ\(s) ˈɛ\(s)n\(s)d", mnemonics: "D\(s)I2\(s); 'E\(s)n\(s)d", americanEnglish: true)
                == "ðɪʲ ˈɛnd")
        #expect(
            EspeakIPARewriter.rewrite(ipa: "f\(s)ˈoːɹ", mnemonics: "f\(s)'o@", americanEnglish: true) == "fˈɔːɹ")
        #expect(
            EspeakIPARewriter.rewrite(ipa: "f\(s)ˈoːɹ", mnemonics: "f\(s)'o@", americanEnglish: false) == "fˈoːɹ")
        #expect(EspeakIPARewriter.rewrite(ipa: "k\(s)r", mnemonics: "k\(s)*", americanEnglish: true) == "kɾ")
        // A pause is written as nothing too, and stays nothing.
        #expect(EspeakIPARewriter.rewrite(ipa: "a\(s)", mnemonics: "a\(s)_:", americanEnglish: true) == "a")
        // Passes that do not line up are not rewritten.
        #expect(EspeakIPARewriter.rewrite(ipa: "a\(s)b", mnemonics: "a", americanEnglish: true) == nil)
    }
}
