// Greedy decoding of one 30 s window without timestamps, with OpenAI's suppression rules
// (whisper/decoding.py SuppressBlank and SuppressTokens; CTranslate2 src/models/whisper.cc).
//
// Shapes: V = vocabulary.

import Compute
import Tensors

/// Picks the most likely token at each step, suppressing OpenAI's non-speech tokens and, at the first
/// step, a blank or an immediate end of text.
public struct GreedyDecoder: Sendable {
    public let model: WhisperModel
    public let config: WhisperConfig
    /// `<|endoftext|>`.
    public let endOfText: Int32

    public init(model: WhisperModel, config: WhisperConfig, endOfText: Int32 = 50_256) {
        self.model = model
        self.config = config
        self.endOfText = endOfText
    }

    /// Decodes after `prompt` (e.g. `[<|startoftranscript|>, <|notimestamps|>]`) until end of text or
    /// `maxTokens`; returns the sampled tokens without the end-of-text token.
    public func decode(audio: Tensor, prompt: [Int32], maxTokens: Int = 224) throws -> [Int32] {
        var state = try model.decoderState(audio: audio)
        let limit = min(
            maxTokens, model.hyperparameters.textContext / 2, model.hyperparameters.textContext - prompt.count)
        var tokens: [Int32] = []
        var logits = try model.decode(prompt, state: &state)
        while tokens.count < limit {
            let next = pick(logits, first: tokens.isEmpty)
            if next == endOfText { break }
            tokens.append(next)
            logits = try model.decode([next], state: &state)
        }
        return tokens
    }

    /// The argmax of `logits` [1, V] after suppression.
    func pick(_ logits: Tensor, first: Bool) -> Int32 {
        logits.withUnsafeFloats { v in
            var suppressed = Set(config.suppressIDs)
            if first { suppressed.formUnion(config.suppressIDsBegin) }
            var best = -Float.infinity
            var index = 0
            for i in 0..<v.count where v[i] > best && !suppressed.contains(i) {
                best = v[i]
                index = i
            }
            return Int32(index)
        }
    }
}
