import Tensors
import Testing

/// The default LLM, SmolLM2-135M-Instruct Q4_1 (GGUF v3): facts checked against the `gguf` Python
/// package.
@Suite("SmolLM2-135M-Instruct (GGUF)")
struct SmolLMFileTests {
    let gguf: GGUFFile

    init() throws {
        gguf = try GGUFFile(path: try DefaultModels.path(DefaultModels.llm))
    }

    @Test("header: version 3, 33 metadata entries, 272 tensors, data at 1,785,664")
    func header() {
        #expect(gguf.version == 3)
        #expect(gguf.metadata.count == 33)
        #expect(gguf.tensors.count == 272)
        #expect(gguf.alignment == 32)
        #expect(gguf.dataOffset == 1_785_664)
        #expect(gguf.metadata.first?.key == "general.architecture")
    }

    @Test("llama hyperparameters")
    func hyperparameters() {
        #expect(gguf["general.architecture"]?.string == "llama")
        #expect(gguf["general.name"]?.string == "Smollm2 135M 8k Lc100K Mix1 Ep2")
        #expect(gguf["general.languages"]?.array?.strings() == ["en"])
        #expect(gguf["llama.block_count"]?.integer == 30)
        #expect(gguf["llama.context_length"]?.integer == 8192)
        #expect(gguf["llama.embedding_length"]?.integer == 576)
        #expect(gguf["llama.feed_forward_length"]?.integer == 1536)
        #expect(gguf["llama.attention.head_count"]?.integer == 9)
        #expect(gguf["llama.attention.head_count_kv"]?.integer == 3)
        #expect(gguf["llama.rope.dimension_count"]?.integer == 64)
        #expect(gguf["llama.vocab_size"]?.integer == 49152)
        #expect(gguf["llama.rope.freq_base"]?.double == 100_000)
        #expect(gguf["llama.attention.layer_norm_rms_epsilon"]?.double == Double(Float(1e-5)))
        #expect(gguf["general.file_type"]?.integer == 3)  // MOSTLY_Q4_1
        #expect(gguf["tokenizer.ggml.add_bos_token"]?.bool == false)
        #expect(gguf["general.alignment"] == nil)
    }

    @Test("tokenizer: 49152 tokens, 48900 merges, token types, special ids, chat template")
    func tokenizer() throws {
        #expect(gguf["tokenizer.ggml.model"]?.string == "gpt2")
        #expect(gguf["tokenizer.ggml.pre"]?.string == "smollm")
        let tokens = try #require(gguf["tokenizer.ggml.tokens"]?.array)
        #expect(tokens.elementType == .string)
        #expect(tokens.count == 49152)
        #expect(tokens.string(at: 0) == "<|endoftext|>")
        #expect(tokens.string(at: 1) == "<|im_start|>")
        #expect(tokens.string(at: 2) == "<|im_end|>")
        #expect(tokens.string(at: 49151) == "ectable")
        #expect(tokens.strings()?.count == 49152)
        #expect(gguf["tokenizer.ggml.merges"]?.array?.count == 48900)
        let types = try #require(gguf["tokenizer.ggml.token_type"]?.array)
        #expect(types.elementType == .int32 && types.count == 49152)
        #expect(types.integers()?.count == 49152)
        #expect(gguf["tokenizer.ggml.bos_token_id"]?.integer == 1)
        #expect(gguf["tokenizer.ggml.eos_token_id"]?.integer == 2)
        #expect(gguf["tokenizer.chat_template"]?.string?.contains("<|im_start|>") == true)
    }

    @Test("tensors: 210 × Q4_1, 61 × F32, the Q8_0 embedding table")
    func tensors() throws {
        let counts = Dictionary(grouping: gguf.tensors, by: \.dtype).mapValues(\.count)
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        let embedding = try #require(gguf.tensorInfo(named: "token_embd.weight"))
        #expect(embedding.dimensions == [576, 49152])
        #expect(embedding.shape == [49152, 576])
        #expect(embedding.dtype == .q8_0 && embedding.ggmlType == 8)
        #expect(embedding.offset == 1_785_664)
        #expect(embedding.byteCount == 30_081_024)
        let down = try #require(gguf.tensorInfo(named: "blk.0.ffn_down.weight"))
        #expect(down.shape == [576, 1536] && down.dtype == .q4_1 && down.byteCount == 552_960)
        #expect(gguf.tensorInfo(named: "blk.29.attn_k.weight")?.shape == [192, 576])
        #expect(gguf.tensorInfo(named: "blk.30.attn_k.weight") == nil)
        let last = try #require(gguf.tensors.last)
        #expect(last.name == "output_norm.weight")
        #expect(last.offset + last.byteCount == gguf.file.bytes.count)
    }

    @Test("tensors are zero-copy views of the mapped file")
    func zeroCopy() throws {
        let norm = try #require(gguf.tensor(named: "blk.0.attn_norm.weight"))
        #expect(norm.shape == [576] && norm.dtype == .f32)
        #expect(norm.storage.isReadOnly)
        #expect(norm.withUnsafeBytes { $0.baseAddress } == gguf.file.bytes.baseAddress.map { $0 + 31_866_688 })
        #expect(norm.floats().allSatisfy { $0.isFinite && $0 != 0 })
        for info in gguf.tensors {
            #expect(info.offset % 32 == 0 && info.offset + info.byteCount <= gguf.file.bytes.count)
            #expect(gguf.tensor(info).storage.isReadOnly)
        }
    }
}
