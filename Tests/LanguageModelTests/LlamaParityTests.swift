import Compute
import Foundation
import ModelStore
import Tensors
import Testing

@testable import LanguageModel

/// Hark's Llama against llama.cpp (llama-cpp-python 0.3.36, CPU, 2 threads) on the default model, SmolLM2-135M
/// Instruct Q4_1. Reference values come from scripts/reference/llama_reference.py (committed fixture
/// Fixtures/llama-smollm2.json; llama.cpp tokenized every text, so no tokenizer is involved here).
///
/// The model runs in `Arithmetic.ggml`, llama.cpp's own CPU arithmetic (8-bit activations per 32-block before each
/// q4_1 / q8_0 product, sums in ggml's lane order, f16 attention operands, ggml's exp): its logits are llama.cpp's
/// bit for bit, so the tolerances below only cover the fixture's rounding (4 decimals for the top-10, 3 for full
/// rows). Measured: top-1 986 of 986 positions, max |Δ| 5e-5 on the top-10, 5e-4 over whole rows; free-running
/// greedy replies identical 11 of 11. (Hark's native f32 arithmetic agrees at 963 of 986: llama.cpp's 8-bit
/// rounding is one draw of noise that only its own arithmetic reproduces.)
@Suite("SmolLM2 (Llama) against llama.cpp", .serialized)
struct LlamaParityTests {
    struct Reference: Decodable {
        struct Forced: Decodable {
            let prompt: String
            let ids: [Int32]
            let top1: [Int32]
            let topIds: [[Int32]]
            let topLogits: [[Float]]
            let fullPositions: [Int]?
            let fullLogits: [[Float]]?
        }
        struct Chat: Decodable {
            let user: String
            let ids: [Int32]
            let reply: [Int32]
            let text: String
        }
        struct Long: Decodable {
            let ids: [Int32]
            let top1: [Int32]
            let from: Int
            let topIds: [[Int32]]
            let topLogits: [[Float]]
        }
        let eos: Int32
        let vocab: Int
        let forced: [Forced]
        let chats: [Chat]
        let long: Long
    }

    /// Tolerances, max |Δ| between Hark's and llama.cpp's logits: the fixture's rounding (see the suite's comment).
    static let topLogitTolerance: Float = 1e-3
    static let fullLogitTolerance: Float = 1e-2
    /// Share of positions whose argmax must equal llama.cpp's (the issue's goal; measured 1.0).
    static let topOneShare = 0.99

    static let reference: Result<Reference, any Error> = Result {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appending(path: "Fixtures/llama-smollm2.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Reference.self, from: Data(contentsOf: url))
    }

    static let path: Result<String, any Error> = Result {
        try ModelStore().installedModel(named: "smollm2-135m-instruct-q4_1", kind: .llm).location.path
    }

    /// In ggml's arithmetic whatever the CPU (`Arithmetic.llamaDefault` picks it only with AVX-512): the portable
    /// kernels give the same bits, more slowly.
    static let model: Result<LlamaModel, any Error> = Result {
        try LlamaModel(path: try path.get(), engine: ComputeEngine(), options: .init(arithmetic: .ggml))
    }

    @Test("the configuration comes from the GGUF's metadata and tensors")
    func config() throws {
        let c = try Self.model.get().config
        #expect(c.architecture == "llama")
        #expect(c.blockCount == 30)
        #expect(c.embeddingLength == 576)
        #expect(c.feedForwardLength == 1536)
        #expect(c.headCount == 9 && c.headCountKV == 3 && c.headDimension == 64)
        #expect(c.ropeDimensionCount == 64 && c.ropeFreqBase == 100_000 && c.ropeFreqScale == 1)
        #expect(c.ropeMode == .interleaved)
        #expect(c.vocabularySize == 49152 && c.contextLength == 8192)
        #expect(c.tiedOutput && !c.attentionBias)
        #expect(c.rmsEpsilon == 1e-5)
    }

    @Test("teacher-forced logits: llama.cpp's top-1 at ≥ 99 % of positions, its logits within the fixture's rounding")
    func teacherForced() throws {
        let model = try Self.model.get()
        let reference = try Self.reference.get()
        var (agree, total) = (0, 0)
        var worstTop: Float = 0
        var worstFull: Float = 0
        for forced in reference.forced {
            var cache = model.makeCache(contextLength: 512)
            let logits = try model.forward(forced.ids, cache: &cache, allLogits: true)
            #expect(logits.shape == [forced.ids.count, reference.vocab])
            #expect(cache.count == forced.ids.count)
            let v = reference.vocab
            logits.withUnsafeFloats { l in
                for p in 0..<forced.ids.count {
                    let row = Tensor(shape: [1, v], floats: Array(l[(p * v)..<((p + 1) * v)]))
                    total += 1
                    if LlamaModel.argmax(row) == forced.top1[p] { agree += 1 }
                    for (id, value) in zip(forced.topIds[p], forced.topLogits[p]) {
                        worstTop = max(worstTop, abs(l[p * v + Int(id)] - value))
                    }
                }
                for (p, full) in zip(forced.fullPositions ?? [], forced.fullLogits ?? []) {
                    for (j, value) in full.enumerated() { worstFull = max(worstFull, abs(l[p * v + j] - value)) }
                }
            }
        }
        let share = Double(agree) / Double(total)
        #expect(share >= Self.topOneShare, "top-1 agrees at \(agree) of \(total) positions")
        #expect(worstTop <= Self.topLogitTolerance, "max |Δ| on llama.cpp's top-10: \(worstTop)")
        #expect(worstFull <= Self.fullLogitTolerance, "max |Δ| over the vocabulary: \(worstFull)")
        print("llama parity: top-1 \(agree)/\(total), top-10 max |Δ| \(worstTop), full max |Δ| \(worstFull)")
    }

    @Test("prefill then decode token by token gives the logits of one batch; truncate and replay repeats them")
    func incremental() throws {
        let ids = try Self.reference.get().forced[2].ids
        // Native arithmetic: the cache's bookkeeping, within f32 rounding. (In ggml's arithmetic a decoded token's
        // attention sums in another order than a batch's, as in llama.cpp, and the 8-bit rounding amplifies it.)
        let native = try LlamaModel(
            path: try Self.path.get(), engine: ComputeEngine(), options: .init(arithmetic: .native))
        var whole = native.makeCache(contextLength: 256)
        let batch = try native.forward(ids, cache: &whole, allLogits: true)
        var cache = native.makeCache(contextLength: 256)
        let split = ids.count / 2
        _ = try native.forward(Array(ids[..<split]), cache: &cache)
        var worst: Float = 0
        let v = native.config.vocabularySize
        for p in split..<ids.count {
            let step = try native.forward([ids[p]], cache: &cache)
            batch.withUnsafeFloats { b in
                step.withUnsafeFloats { s in
                    for j in 0..<v { worst = max(worst, abs(b[p * v + j] - s[j])) }
                }
            }
        }
        // Decoding rounds x to 16 bits per block for its integer products (QuantizedMatrix), the prompt's
        // products take x in f32: measured 3.5e-3 on logits of magnitude ~10–20.
        #expect(worst <= 1e-2, "max |Δ| between batched and incremental logits: \(worst)")

        // ggml's arithmetic: a batch's row depends on nothing but its own position and the cache, so rewinding
        // and replaying the second half as a batch gives exactly the logits of the whole batch.
        let model = try Self.model.get()
        var full = model.makeCache(contextLength: 256)
        let all = try model.forward(ids, cache: &full, allLogits: true)
        full.truncate(to: split)
        #expect(full.count == split)
        let again = try model.forward(Array(ids[split...]), cache: &full, allLogits: true)
        let replayed = all.withUnsafeFloats { a in
            again.withUnsafeFloats { r in (0..<r.count).allSatisfy { r[$0] == a[split * v + $0] } }
        }
        #expect(replayed, "truncate and replay changed the logits")
    }

    @Test("a 600-token prompt, which llama.cpp runs in micro-batches of 512: its logits at every position")
    func longPrompt() throws {
        let model = try Self.model.get()
        let long = try Self.reference.get().long
        var cache = model.makeCache(contextLength: 1024)
        let logits = try model.forward(long.ids, cache: &cache, allLogits: true)
        let v = model.config.vocabularySize
        var (agree, worst): (Int, Float) = (0, 0)
        logits.withUnsafeFloats { l in
            for p in 0..<long.ids.count {
                let row = Tensor(shape: [1, v], floats: Array(l[(p * v)..<((p + 1) * v)]))
                if LlamaModel.argmax(row) == long.top1[p] { agree += 1 }
                guard p >= long.from else { continue }
                for (id, value) in zip(long.topIds[p - long.from], long.topLogits[p - long.from]) {
                    worst = max(worst, abs(l[p * v + Int(id)] - value))
                }
            }
        }
        #expect(agree == long.ids.count, "top-1 agrees at \(agree) of \(long.ids.count) positions")
        #expect(worst <= Self.topLogitTolerance, "max |Δ| on llama.cpp's top-10 from position \(long.from): \(worst)")
    }

    @Test("chat replies: greedy replies equal llama.cpp's, and so does the next token after each of their prefixes")
    func chatReplies() throws {
        let model = try Self.model.get()
        let reference = try Self.reference.get()
        var (agree, total, identical) = (0, 0, 0)
        for chat in reference.chats {
            var cache = model.makeCache(contextLength: 512)
            let logits = try model.forward(chat.ids + chat.reply.dropLast(), cache: &cache, allLogits: true)
            let v = reference.vocab
            logits.withUnsafeFloats { l in
                for (i, token) in chat.reply.enumerated() {
                    let p = chat.ids.count - 1 + i
                    total += 1
                    if LlamaModel.argmax(Tensor(shape: [1, v], floats: Array(l[(p * v)..<((p + 1) * v)]))) == token {
                        agree += 1
                    }
                }
            }
            // Free-running greedy decoding: prompt as one batch, then token by token, as llama.cpp generated it.
            var fresh = model.makeCache(contextLength: 512)
            let reply = try model.greedy(chat.ids, maxTokens: 64, stop: [reference.eos], cache: &fresh)
            if reply == chat.reply { identical += 1 }
        }
        // Teacher-forced as one batch, which sums attention in another order than llama.cpp's token-by-token
        // decoding did: measured 505 of 516.
        #expect(Double(agree) / Double(total) >= 0.95, "\(agree) of \(total) reply tokens agree")
        // The issue's goal: at least 9 in 10 replies identical (measured 11 of 11).
        #expect(Double(identical) >= 0.9 * Double(reference.chats.count), "\(identical) identical replies")
        print(
            "llama parity: reply tokens \(agree)/\(total); free-running greedy identical \(identical)/\(reference.chats.count)"
        )
    }

    @Test("the chat session (harkd's path: template, tokenizer, streamed greedy reply) answers as llama.cpp did")
    func sessionReplies() async throws {
        let reference = try Self.reference.get()
        let path = try Self.path.get()
        let file = try GGUFFile(path: path)
        let tokenizer = try Tokenizer(file)
        let session = try LanguageModelSession(
            model: try Self.model.get(), tokenizer: tokenizer, template: ChatTemplate(file, tokenizer: tokenizer),
            contextLength: 512)
        let system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
        var identical = 0
        for chat in reference.chats {
            let messages: [ChatMessage] = [.system(system), .user(chat.user)]
            #expect(session.promptTokens(for: messages) == chat.ids, "\(chat.user)")
            var text = ""
            let options = GenerationOptions(maxTokens: 64, sampling: .greedy)
            for try await event in session.reply(to: messages, options: options) {
                if case .text(let piece) = event { text += piece }
            }
            await session.reset()
            if text == tokenizer.decode(chat.reply.filter { !tokenizer.isEndOfGeneration($0) }) { identical += 1 }
        }
        #expect(Double(identical) >= 0.9 * Double(reference.chats.count), "\(identical) identical replies")
        print("llama parity: chat session replies identical \(identical)/\(reference.chats.count)")
    }

    @Test("a prompt longer than the cache, an empty prompt and an unknown id are errors")
    func promptErrors() throws {
        let model = try Self.model.get()
        var cache = model.makeCache(contextLength: 8)
        #expect(throws: LanguageModelError.promptTooLong(tokens: 9, context: 8)) {
            try model.forward(Array(repeating: 1, count: 9), cache: &cache)
        }
        #expect(cache.count == 0)
        #expect(throws: LanguageModelError.emptyPrompt) { try model.forward([], cache: &cache) }
        #expect(throws: LanguageModelError.invalidToken(49152, vocabulary: 49152)) {
            try model.forward([49152], cache: &cache)
        }
        _ = try model.forward(Array(repeating: 1, count: 6), cache: &cache)
        #expect(throws: LanguageModelError.promptTooLong(tokens: 9, context: 8)) {
            try model.forward([1, 2, 3], cache: &cache)
        }
        #expect(cache.count == 6)
    }

    @Test("a truncated GGUF is refused with an error naming the file and the missing bytes")
    func truncatedFile() throws {
        let path = try Self.path.get()
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let copy = FileManager.default.temporaryDirectory.appending(path: "hark-truncated-\(UUID()).gguf")
        try data.prefix(data.count / 2).write(to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        do {
            _ = try LlamaModel(path: copy.path, engine: ComputeEngine())
            Issue.record("a truncated GGUF loaded")
        } catch let error as ModelFileError {
            #expect(error.kind == .truncated)
            #expect(error.description.contains(copy.lastPathComponent))
        }
    }

    @Test("an architecture other than the Llama family is refused by name")
    func unsupportedArchitecture() throws {
        // A GGUF v3 with no tensors and one metadata entry: general.architecture = "mamba".
        var w = GGUFWriter(tensors: 0, metadata: 1)
        w.entry("general.architecture", string: "mamba")
        let url = FileManager.default.temporaryDirectory.appending(path: "hark-mamba-\(UUID()).gguf")
        try Data(w.bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: LanguageModelError.unsupportedArchitecture("mamba")) {
            try LlamaConfig(try GGUFFile(path: url.path))
        }
    }
}
