import Foundation
import LanguageModel
import Testing

@Suite struct SamplingTests {
    @Test func greedyPicksTheFirstLargestLogit() {
        var sampler = Sampler(.greedy)
        #expect(sampler.sample([0.1, 3, -2, 3, 1]) == 1)
    }

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        // Token 1 leads, but once penalised 2× it falls below token 3; a negative logit only gets worse.
        var sampler = Sampler(SamplingOptions(temperature: 0, repetitionPenalty: 2))
        #expect(sampler.sample([0, 4, -1, 3], history: [1, 1, 2]) == 3)
        #expect(sampler.sample([0, 4, -1, 3], history: []) == 1)
    }

    @Test func aSeedMakesDrawsReproducible() {
        let logits = (0..<500).map { Float($0 % 17) * 0.3 }
        let options = SamplingOptions(temperature: 1.2, topK: 0, topP: 1, minP: 0, seed: 42)
        var a = Sampler(options)
        var b = Sampler(options)
        let drawsA = (0..<50).map { _ in a.sample(logits) }
        let drawsB = (0..<50).map { _ in b.sample(logits) }
        #expect(drawsA == drawsB)
        #expect(Set(drawsA).count > 5, "a flat distribution at temperature 1.2 should not always pick one token")
    }

    @Test func filtersKeepOnlyTheLikelyTokens() {
        // Logits 10, 9, 0, 0, …: top-k 2 can only ever give tokens 0 or 1.
        var logits = [Float](repeating: 0, count: 100)
        logits[7] = 10
        logits[42] = 9
        var topK = Sampler(SamplingOptions(temperature: 5, topK: 2, topP: 1, minP: 0, seed: 1))
        #expect(Set((0..<200).map { _ in topK.sample(logits) }).isSubset(of: [7, 42]))
        // min-p 0.5: token 42 has e⁻¹ ≈ 0.37 of token 7's probability, so only token 7 survives.
        var minP = Sampler(SamplingOptions(temperature: 5, topK: 0, topP: 1, minP: 0.5, seed: 1))
        #expect(Set((0..<200).map { _ in minP.sample(logits) }) == [7])
        // top-p 0.5: token 7 alone already holds ≈ 73 % of the mass.
        var topP = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 0.5, minP: 0, seed: 1))
        #expect(Set((0..<200).map { _ in topP.sample(logits) }) == [7])
    }

    @Test func drawsFollowTheDistribution() {
        // Two tokens with probabilities 0.8 / 0.2 at temperature 1.
        let logits: [Float] = [logf(0.8), logf(0.2)]
        var sampler = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7))
        let n = 4000
        let ones = (0..<n).filter { _ in sampler.sample(logits) == 1 }.count
        #expect(abs(Double(ones) / Double(n) - 0.2) < 0.03)
    }
}

@Suite struct ReplyTextTests {
    @Test func holdsSplitCharactersUntilComplete() {
        var reply = ReplyText()
        let smile = Array("🙂".utf8)
        #expect(reply.append(Array("Hi ".utf8) + smile.prefix(2)) == "Hi ")
        #expect(reply.append(Array(smile.suffix(2))) == "🙂")
        #expect(reply.finish() == "")
        #expect(reply.emitted == "Hi 🙂")
    }

    @Test func stopsAtAStopStringThatSpansTokens() {
        var reply = ReplyText(stopStrings: ["<|im_end|>", "\nUser:"])
        var out = ""
        for piece in ["Sure", ", done.", "\nUs", "er:", " more"] { out += reply.append(Array(piece.utf8)) }
        out += reply.finish()
        #expect(out == "Sure, done.")
        #expect(reply.stopped)
    }

    @Test func releasesAHeldPrefixThatDidNotBecomeAStopString() {
        var reply = ReplyText(stopStrings: ["\nUser:"])
        #expect(reply.append(Array("a\nU".utf8)) == "a")
        #expect(reply.append(Array("p".utf8)) == "\nUp")
        #expect(reply.finish() == "")
    }

    @Test func aTruncatedCharacterAtTheEndBecomesAReplacementCharacter() {
        var reply = ReplyText()
        #expect(reply.append([0x61, 0xE2, 0x82]) == "a")
        #expect(reply.finish() == "\u{FFFD}")
    }
}
