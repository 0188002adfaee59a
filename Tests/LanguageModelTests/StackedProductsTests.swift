import Compute
import Foundation
import Tensors
import Testing

@testable import LanguageModel

/// The model stacks q, k and v (and gate and up) into one weight when their element types match and keeps them
/// apart otherwise; both must compute the same thing, attention biases (Qwen2) included. Checked on a tiny random
/// Qwen2-style GGUF written here, once with every weight in f32 (stacked) and once with v and up in f16 (apart);
/// the values are f16-exact, so both files hold the same numbers.
@Suite("Stacked and separate products of one input")
struct StackedProductsTests {
    static let (d, f, vocab, heads, kvHeads, blocks) = (64, 96, 40, 4, 2, 2)

    /// A GGUF v3 of a tiny qwen2 model; `halfNames` are stored as f16, everything else as f32.
    static func file(halfNames: Set<String>, biasScale: Float = 1) throws -> GGUFFile {
        var rng = SeededRandom(seed: 11)
        let kv = d / heads * kvHeads
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            let values = rng.tensor(shape, scale: scale).floats().map { Float(Float16($0 + offset)) }
            tensors.append((name, shape, values))
        }
        add("token_embd.weight", [vocab, d], scale: 1)
        add("output_norm.weight", [d], scale: 0.1, offset: 1)
        for i in 0..<blocks {
            let p = "blk.\(i)"
            add("\(p).attn_norm.weight", [d], scale: 0.1, offset: 1)
            add("\(p).attn_q.weight", [d, d], scale: 0.2)
            add("\(p).attn_k.weight", [kv, d], scale: 0.2)
            add("\(p).attn_v.weight", [kv, d], scale: 0.2)
            add("\(p).attn_q.bias", [d], scale: 0.5 * biasScale)
            add("\(p).attn_k.bias", [kv], scale: 0.5 * biasScale)
            add("\(p).attn_v.bias", [kv], scale: 0.5 * biasScale)
            add("\(p).attn_output.weight", [d, d], scale: 0.2)
            add("\(p).ffn_norm.weight", [d], scale: 0.1, offset: 1)
            add("\(p).ffn_gate.weight", [f, d], scale: 0.2)
            add("\(p).ffn_up.weight", [f, d], scale: 0.2)
            add("\(p).ffn_down.weight", [d, f], scale: 0.2)
        }

        let integers: [(String, Int)] = [
            ("qwen2.block_count", blocks), ("qwen2.embedding_length", d), ("qwen2.feed_forward_length", f),
            ("qwen2.attention.head_count", heads), ("qwen2.attention.head_count_kv", kvHeads),
            ("qwen2.context_length", 64),
        ]
        var w = GGUFWriter(tensors: tensors.count, metadata: integers.count + 1)
        w.entry("general.architecture", string: "qwen2")
        for (key, value) in integers { w.entry(key, u32: UInt32(value)) }
        var data: [UInt8] = []
        for t in tensors {
            while data.count % 32 != 0 { data.append(0) }
            w.string(t.name)
            w.u32(UInt32(t.shape.count))
            for dim in t.shape.reversed() { w.u64(UInt64(dim)) }  // ggml order: innermost first
            let half = halfNames.contains(t.name)
            w.u32(half ? 1 : 0)
            w.u64(UInt64(data.count))
            for v in t.values {
                if half {
                    withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { data += $0 }
                } else {
                    withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 }
                }
            }
        }
        w.pad(to: 32)
        w.append(data)
        return try w.file("tiny-qwen2.gguf")
    }

    static func logits(_ file: GGUFFile) throws -> (LlamaModel, [Float]) {
        let model = try LlamaModel(file: file, engine: ComputeEngine())
        var cache = model.makeCache(contextLength: 32)
        let ids: [Int32] = [1, 7, 3, 22, 9, 31, 5, 12, 0, 39]
        var out = try model.forward(ids, cache: &cache, allLogits: true).floats()
        // Then two decoded tokens (the matrix-vector path).
        out += try model.forward([4], cache: &cache).floats()
        out += try model.forward([17], cache: &cache).floats()
        return (model, out)
    }

    @Test("one stacked product and separate products give the same logits, biases included")
    func stackedEqualsApart() throws {
        let (stacked, a) = try Self.logits(Self.file(halfNames: []))
        let halves = Set((0..<Self.blocks).flatMap { ["blk.\($0).attn_v.weight", "blk.\($0).ffn_up.weight"] })
        let (apart, b) = try Self.logits(Self.file(halfNames: halves))
        guard case .stacked = stacked.layers[0].qkv, case .stacked = stacked.layers[0].gateUp else {
            Issue.record("f32 q, k, v and gate, up were not stacked")
            return
        }
        guard case .apart = apart.layers[0].qkv, case .apart = apart.layers[0].gateUp else {
            Issue.record("f32 q, k with f16 v (and f32 gate with f16 up) were stacked")
            return
        }
        #expect(stacked.config.attentionBias)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        // Only summation order differs (f16 weights decode through another kernel), but the f16 cache can round
        // a key differently: measured 7e-4; a misplaced column or bias moves logits by whole units.
        #expect(worst <= 5e-3, "max |Δ| stacked against apart: \(worst)")
        // The biases take part: without them the logits move.
        let (_, c) = try Self.logits(Self.file(halfNames: [], biasScale: 0))
        #expect((zip(a, c).map { abs($0 - $1) }.max() ?? 0) > 1e-2)
    }
}
