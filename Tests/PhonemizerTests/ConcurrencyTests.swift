import Phonemizer
import Testing

/// espeak-ng is one global C library: phonemizers on many tasks, with different voices and styles, must each get
/// exactly what they get alone.
@Suite("Concurrent phonemizing")
struct ConcurrencyTests {
    static let texts = [
        "Hello, world! How are you? Fine; thanks: ok",
        "Dr. Smith paid $5.50 for a cup of coffee.",
        "The end. Four more.",
        "First paragraph.\n\nSecond paragraph",
        "Wait... what did you just say?",
        "The quick brown fox jumps over the lazy dog.",
    ]

    @Test("Many concurrent calls on one phonemizer give the sequential results")
    func oneActor() async throws {
        let phonemizer = EspeakPhonemizer()
        var expected: [[PhonemeSentence]] = []
        for text in Self.texts { expected.append(try await phonemizer.phonemize(text, voice: "en-us")) }
        let results = try await withThrowingTaskGroup(of: (Int, [PhonemeSentence]).self) { group in
            for round in 0..<60 {
                let index = round % Self.texts.count
                group.addTask { (index, try await phonemizer.phonemize(Self.texts[index], voice: "en-us")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 60)
        for (index, sentences) in results { #expect(sentences == expected[index]) }
    }

    @Test("Two phonemizers with different voices and styles, interleaved, give their own results")
    func twoActors() async throws {
        let american = EspeakPhonemizer()
        let system = EspeakPhonemizer(style: .systemLibrary)
        let german = "Guten Tag. Wie geht es dir?"
        var expectedAmerican: [[PhonemeSentence]] = []
        for text in Self.texts { expectedAmerican.append(try await american.phonemize(text, voice: "en-us")) }
        let expectedGerman = try await system.phonemize(german, voice: "de")
        let expectedSystem = try await system.phonemize(Self.texts[2], voice: "en-us")
        #expect(expectedSystem != expectedAmerican[2])

        enum Outcome: Sendable {
            case american(Int, [PhonemeSentence])
            case german([PhonemeSentence])
            case system([PhonemeSentence])
        }
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for round in 0..<40 {
                let index = round % Self.texts.count
                group.addTask { .american(index, try await american.phonemize(Self.texts[index], voice: "en-us")) }
                if round.isMultiple(of: 2) {
                    group.addTask { .german(try await system.phonemize(german, voice: "de")) }
                } else {
                    group.addTask { .system(try await system.phonemize(Self.texts[2], voice: "en-us")) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 80)
        for outcome in outcomes {
            switch outcome {
            case .american(let index, let sentences): #expect(sentences == expectedAmerican[index])
            case .german(let sentences): #expect(sentences == expectedGerman)
            case .system(let sentences): #expect(sentences == expectedSystem)
            }
        }
    }

    @Test("Phoneme ids from concurrent tasks match the sequential ones")
    func ids() async throws {
        let config = try Fixtures.joe.get()
        let phonemizer = EspeakPhonemizer()
        let expected = try await phonemizer.phonemeIDs(for: Self.texts[0], config: config)
        let results = try await withThrowingTaskGroup(of: [[Int]].self) { group in
            for _ in 0..<20 {
                group.addTask { try await EspeakPhonemizer().phonemeIDs(for: Self.texts[0], config: config) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == expected })
    }
}
