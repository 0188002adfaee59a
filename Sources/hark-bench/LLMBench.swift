import ArgumentParser
import Compute
import Foundation
import LanguageModel
import Tensors

/// Prefill and decode speed of the in-process Llama runtime, and where a decoded token's time goes op by op.
/// scripts/bench/llm.py runs this next to llama.cpp on the same GGUF and prompt.
struct LLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Times the Llama runtime: prefill and decode tokens per second, and a per-op profile.")

    @Option(help: "GGUF model (default: the installed SmolLM2-135M-Instruct Q4_1).")
    var model: String = NSString(
        string: "~/.local/share/hark/llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf"
    ).expandingTildeInPath

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(help: "Prompt token ids, comma-separated (default: --prompt-tokens deterministic ids).")
    var ids: String?

    @Option(help: "Prompt length when no ids are given.")
    var promptTokens: Int = 128

    @Option(help: "Tokens decoded greedily after the prompt.")
    var decodeTokens: Int = 64

    @Option(help: "Runs; the best is reported.")
    var repeats: Int = 3

    @Flag(help: "Also time each op of a decoded token at the model's shapes.")
    var profile = false

    @Option(
        help: "Whose rounding the CPU follows: ggml (llama.cpp's) or native (default: the model's, ggml on AVX-512).")
    var arithmetic: String?

    func run() throws {
        let engine = ComputeEngine(threads: threads)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let chosen = try arithmetic.map { name in
            guard let a = Arithmetic(rawValue: name) else {
                throw ValidationError("--arithmetic: '\(name)' is neither ggml nor native")
            }
            return a
        }
        let arithmetic = chosen ?? .llamaDefault
        let llama = try LlamaModel(path: model, engine: engine, options: .init(arithmetic: arithmetic))
        let load = seconds(since: loadStart)
        let c = llama.config
        let prompt: [Int32] =
            try ids.map { list in
                try list.split(separator: ",").map { s in
                    guard let v = Int32(s.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--ids: '\(s)' is not a token id")
                    }
                    return v
                }
            } ?? (0..<promptTokens).map { Int32(($0 * 7919 + 17) % c.vocabularySize) }
        print(
            "llm: \(c.architecture) \(c.blockCount) layers, width \(c.embeddingLength), \(engine.cpu.threads) threads, "
                + "load \(String(format: "%.3f", load)) s")

        var bestPrefill = Double.infinity
        var bestDecode = Double.infinity
        var generated: [Int32] = []
        for _ in 0..<max(1, repeats) {
            var cache = llama.makeCache(contextLength: prompt.count + decodeTokens + 1)
            let t0 = DispatchTime.now().uptimeNanoseconds
            var logits = try llama.forward(prompt, cache: &cache)
            bestPrefill = min(bestPrefill, seconds(since: t0))
            let t1 = DispatchTime.now().uptimeNanoseconds
            generated = []
            for _ in 0..<decodeTokens {
                let next = LlamaModel.argmax(logits)
                generated.append(next)
                logits = try llama.forward([next], cache: &cache)
            }
            bestDecode = min(bestDecode, seconds(since: t1))
        }
        print(
            String(
                format: "prefill: %d tokens in %.4f s = %.1f tok/s", prompt.count, bestPrefill,
                Double(prompt.count) / bestPrefill))
        print(
            String(
                format: "decode: %d tokens in %.4f s = %.1f tok/s", decodeTokens, bestDecode,
                Double(decodeTokens) / bestDecode))
        print("generated: " + generated.prefix(16).map(String.init).joined(separator: ","))
        if profile {
            try profileDecode(engine: engine, context: prompt.count + decodeTokens / 2, arithmetic: arithmetic)
        }
    }

    /// Times each op of one decoded token at the model's shapes (layer 0's real weights) and prints the per-token
    /// total of each kind, so the runtime's own overhead shows as the gap to the measured decode time.
    func profileDecode(engine: ComputeEngine, context p: Int, arithmetic a: Arithmetic) throws {
        let file = try GGUFFile(path: model)
        let c = try LlamaConfig(file)
        let (d, f, h, g, e) = (c.embeddingLength, c.feedForwardLength, c.headCount, c.headCountKV, c.headDimension)
        let layers = Double(c.blockCount)
        func weight(_ name: String, _ use: WeightUse = .linear) throws -> PreparedWeight {
            guard let t = file.tensor(named: name) else { throw ValidationError("\(model) has no \(name)") }
            return try engine.prepare(t, for: use)
        }
        var rng = SeededRandom(seed: 3)
        let x = rng.tensor([1, d])
        let hidden = rng.tensor([1, f])
        let gamma = rng.tensor([d])
        var keys = Tensor(zeros: [p, g * e], dtype: .f16)  // the cache keeps keys and values in f16
        keys.storeHalves(of: rng.tensor([p, g * e]), count: p * g * e, at: 0)
        var rows: [(String, Double)] = []
        func op(_ label: String, perToken count: Double, _ body: () throws -> Void) rethrows {
            try body()
            var best = Double.infinity
            for _ in 0..<200 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                best = min(best, seconds(since: t0))
            }
            rows.append((label, best * count))
        }
        // The products a layer makes: q, k, v and gate, up stacked into one weight as the model stacks them
        // (when their types match).
        for group in [["attn_q", "attn_k", "attn_v"], ["attn_output"], ["ffn_gate", "ffn_up"], ["ffn_down"]] {
            var parts: [Tensor] = []
            for name in group {
                guard let t = file.tensor(named: "blk.0.\(name).weight") else {
                    throw ValidationError("\(model) has no blk.0.\(name).weight")
                }
                parts.append(t)
            }
            let products =
                Tensor(stackingRows: parts).map { [(group.joined(separator: "+"), $0)] }
                ?? zip(group, parts).map { ($0, $1) }
            for (name, t) in products {
                let w = try engine.prepare(t, for: .linear)
                let (n, k) = (t.shape[0], t.shape[1])
                var y = Tensor(zeros: [1, n])
                let input = k == f ? hidden : (k == d ? x : rng.tensor([1, k]))
                try op("linear \(name) \(k)→\(n) \(w.dtype)", perToken: layers) {
                    try engine.linear(input, w, into: &y, arithmetic: a)
                }
            }
        }
        let head = try weight(c.tiedOutput ? "token_embd.weight" : "output.weight")
        var logits = Tensor(zeros: [1, c.vocabularySize])
        try op("linear output head \(d)→\(c.vocabularySize) \(head.dtype)", perToken: 1) {
            try engine.linear(x, head, into: &logits, arithmetic: a)
        }
        let query = rng.tensor([1, h * e])
        var attended = Tensor(zeros: [1, h * e])
        let qv = MatrixView(batch: h, rows: 1, cols: e, rowStride: h * e, batchStride: e)
        let kv = MatrixView(batch: g, rows: p, cols: e, rowStride: g * e, batchStride: e)
        try op("attention \(h) heads × \(p) keys (q·kᵀ, softmax, p·v)", perToken: layers) {
            try engine.attention(
                query, qv, keys, kv, keys, kv, scale: 0.125, causalOffset: p - 1, into: &attended, qv, arithmetic: a)
        }
        var y = x
        try op("rms_norm \(d) (×2)", perToken: 2 * layers + 1) {
            try engine.rmsNorm(&y, gamma: gamma, arithmetic: a)
        }
        var q = rng.tensor([1, h, e])
        var k = rng.tensor([1, g, e])
        try op("rope q and k", perToken: layers) {
            try engine.rope(&q, positions: [Int32(p)], base: c.ropeFreqBase, mode: c.ropeMode, arithmetic: a)
            try engine.rope(&k, positions: [Int32(p)], base: c.ropeFreqBase, mode: c.ropeMode, arithmetic: a)
        }
        var act = hidden
        try op("silu + mul \(f)", perToken: layers) { try engine.swiglu(&act, hidden, arithmetic: a) }
        try op("add residual \(d) (×2)", perToken: 2 * layers) { try engine.add(&y, x) }
        let table = try weight("token_embd.weight", .embedding)
        var row = Tensor(zeros: [1, d])
        try op("embedding", perToken: 1) { try engine.embedding(table, ids: [42], into: &row) }

        let total = rows.reduce(0) { $0 + $1.1 }
        print("\nper decoded token at \(p) cached positions (ops timed alone, best of 200, × uses per token):")
        for (label, t) in rows.sorted(by: { $0.1 > $1.1 }) {
            print(
                label.padding(toLength: 50, withPad: " ", startingAt: 0)
                    + String(format: "%8.3f ms %5.1f %%", t * 1e3, 100 * t / total))
        }
        print("sum".padding(toLength: 50, withPad: " ", startingAt: 0) + String(format: "%8.3f ms", total * 1e3))
    }

    func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
