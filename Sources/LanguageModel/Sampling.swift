// Token sampling after llama.cpp's default sampler chain (src/llama-sampling.cpp, common/sampling.cpp):
// repetition penalty → top-k → top-p → min-p → temperature → draw. Temperature 0 is greedy (argmax).
//
// Shapes: logits [vocab] (one row of the model's output), history [n] (token ids seen so far).
import Foundation
import Tensors

/// How the next token is chosen. The defaults are llama.cpp's.
public struct SamplingOptions: Codable, Sendable, Hashable {
    /// 0 picks the most likely token every time (greedy); higher values flatten the distribution.
    public var temperature: Float
    /// Keep only the k most likely tokens (0 keeps all).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability adds up to p (1 keeps all).
    public var topP: Float
    /// Drop tokens less likely than minP × the most likely one's probability (0 keeps all).
    public var minP: Float
    /// Divides positive logits (multiplies negative ones) of recently seen tokens; 1 is off.
    public var repetitionPenalty: Float
    /// How many of the last tokens the repetition penalty looks at.
    public var repetitionWindow: Int
    /// Seed of the draw, for reproducible replies; nil draws from the system's generator.
    public var seed: UInt64?

    public init(
        temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
        repetitionPenalty: Float = 1.0, repetitionWindow: Int = 64, seed: UInt64? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Always the most likely token.
    public static let greedy = SamplingOptions(temperature: 0)
}

/// Picks tokens from logits by `SamplingOptions`; holds the random state, so one sampler serves one reply.
public struct Sampler: Sendable {
    public let options: SamplingOptions
    private var random: SeededRandom

    public init(_ options: SamplingOptions) {
        self.options = options
        random = SeededRandom(seed: options.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The next token for `logits`, given the tokens already in the context.
    public mutating func sample(_ logits: [Float], history: [Int32] = []) -> Int32 {
        var logits = logits
        applyRepetitionPenalty(&logits, history: history)
        if options.temperature <= 0 { return Int32(Self.argmax(logits)) }

        // Candidates sorted by logit, most likely first; the filters then only shorten the list.
        var candidates = Self.topCandidates(logits, k: options.topK)
        candidates = filterTopP(candidates)
        candidates = filterMinP(candidates)
        let scaled = candidates.map { $0.logit / options.temperature }
        let maximum = scaled.first ?? 0
        let weights = scaled.map { expf($0 - maximum) }
        let total = weights.reduce(0, +)
        var draw = Float.random(in: 0..<1, using: &random) * total
        for (i, w) in weights.enumerated() {
            draw -= w
            if draw < 0 { return candidates[i].id }
        }
        return candidates.last?.id ?? Int32(Self.argmax(logits))
    }

    /// The index of the largest logit (the first one on ties, as llama.cpp's greedy sampler).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        return best
    }

    // MARK: The chain

    private func applyRepetitionPenalty(_ logits: inout [Float], history: [Int32]) {
        guard options.repetitionPenalty != 1, options.repetitionWindow > 0, !history.isEmpty else { return }
        // Each distinct token is penalised once, however often it occurs (llama.cpp's penalties sampler).
        var seen = Set<Int32>()
        for id in history.suffix(options.repetitionWindow) where seen.insert(id).inserted {
            let i = Int(id)
            guard logits.indices.contains(i) else { continue }
            logits[i] = logits[i] > 0 ? logits[i] / options.repetitionPenalty : logits[i] * options.repetitionPenalty
        }
    }

    private struct Candidate {
        var id: Int32
        var logit: Float
    }

    /// The k largest logits, sorted descending (all of them when k ≤ 0).
    private static func topCandidates(_ logits: [Float], k: Int) -> [Candidate] {
        let all = logits.enumerated().map { Candidate(id: Int32($0.offset), logit: $0.element) }
        guard k > 0, k < all.count else { return all.sorted { $0.logit > $1.logit } }
        // A bounded selection keeps this O(vocab · log k) rather than sorting the whole vocabulary.
        var heap: [Candidate] = []
        heap.reserveCapacity(k + 1)
        for c in all {
            if heap.count < k {
                heap.append(c)
                if heap.count == k { heap.sort { $0.logit > $1.logit } }
            } else if c.logit > heap[k - 1].logit {
                var lo = 0
                var hi = k - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if heap[mid].logit >= c.logit { lo = mid + 1 } else { hi = mid }
                }
                heap.insert(c, at: lo)
                heap.removeLast()
            }
        }
        if heap.count < k { heap.sort { $0.logit > $1.logit } }
        return heap
    }

    /// Probabilities (softmax at temperature 1) of sorted candidates.
    private static func probabilities(_ candidates: [Candidate]) -> [Float] {
        guard let maximum = candidates.first?.logit else { return [] }
        let e = candidates.map { expf($0.logit - maximum) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    private func filterTopP(_ candidates: [Candidate]) -> [Candidate] {
        guard options.topP < 1, candidates.count > 1 else { return candidates }
        let p = Self.probabilities(candidates)
        var sum: Float = 0
        for (i, pi) in p.enumerated() {
            sum += pi
            if sum >= options.topP { return Array(candidates[...i]) }
        }
        return candidates
    }

    private func filterMinP(_ candidates: [Candidate]) -> [Candidate] {
        guard options.minP > 0, let best = candidates.first?.logit else { return candidates }
        // p_i ≥ minP · p_max  ⇔  logit_i ≥ logit_max + ln(minP).
        let threshold = best + logf(options.minP)
        let kept = candidates.prefix { $0.logit >= threshold }
        return kept.isEmpty ? [candidates[0]] : Array(kept)
    }
}
