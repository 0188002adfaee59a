import Foundation
import ModelStore
import Tensors
import Testing

@testable import LanguageModel

/// The committed reference of scripts/reference/llama_tokenizer_reference.py: llama.cpp's ids (through
/// llama-cpp-python 0.3.36) for every line of Fixtures/tokenizer-corpus.json, token pieces, and jinja2 chat renderings.
struct TokenizerReference: Decodable {
    struct Case: Decodable {
        let text: String
        let addSpecial: [Int32]
        let noSpecial: [Int32]
    }
    struct Chat: Decodable {
        let family: String
        let template: String
        let bos: String
        let eos: String
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let prompt: String
    }
    let nVocab: Int
    let bos: Int32
    let eos: Int32
    let eot: Int32
    let addBos: Bool
    let eog: [Int32]
    let cases: [Case]
    /// Pre-tokenizer name → llama.cpp's ids (no special tokens added) for each case's text, on SmolLM2's
    /// vocabulary under that pre-tokenizer ("default": no `tokenizer.ggml.pre`).
    let otherPreTokenizers: [String: [[Int32]]]
    let pieces: [String: String]
    let sentencepiece: SentencePieceReference
    let chats: [Chat]

    /// A small SentencePiece vocabulary the script builds (no default model uses one) and llama.cpp's ids on it.
    struct SentencePieceReference: Decodable {
        struct Case: Decodable {
            let addSpecial: [Int32]
            let noSpecial: [Int32]
            /// `parse_special` false.
            let noParse: [Int32]
        }
        let tokens: [String]
        let types: [Int32]
        let scores: [Float]
        let texts: [String]
        let cases: [Case]
    }

    static let shared: Result<TokenizerReference, any Error> = Result {
        let url = Bundle.module.resourceURL!.appending(path: "Fixtures/tokenizer-smollm2.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(TokenizerReference.self, from: Data(contentsOf: url))
    }

    /// The default LLM, SmolLM2-135M-Instruct, as installed by the project's setup.
    static let gguf: Result<GGUFFile, any Error> = Result {
        let resolved = try ModelStore().installedModel(named: "smollm2-135m-instruct-q4_1", kind: .llm)
        return try GGUFFile(path: resolved.location.path)
    }

    static let smolLM2: Result<Tokenizer, any Error> = Result { try Tokenizer(gguf.get()) }
}

@Suite("SmolLM2's tokenizer against llama.cpp")
struct SmolLM2TokenizerTests {
    @Test("ids equal llama_tokenize on every corpus line, with and without special tokens")
    func idsMatchLlamaCpp() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        let reference = try TokenizerReference.shared.get()
        #expect(reference.cases.count >= 360)
        for c in reference.cases {
            #expect(tokenizer.encode(c.text, addSpecial: true) == c.addSpecial, "text: \(c.text.debugDescription)")
            #expect(tokenizer.encode(c.text, addSpecial: false) == c.noSpecial, "text: \(c.text.debugDescription)")
        }
    }

    @Test(
        "the same vocabulary under llama.cpp's other pre-tokenizers gives its ids",
        arguments: ["llama-bpe", "qwen2", "gpt-2", "starcoder", "default"])
    func otherPreTokenizers(_ pre: String) throws {
        var vocabulary = try Vocabulary(TokenizerReference.gguf.get())
        vocabulary.preTokenizer = pre == "default" ? nil : pre
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        let reference = try TokenizerReference.shared.get()
        let expected = try #require(reference.otherPreTokenizers[pre])
        try #require(expected.count == reference.cases.count)
        for (c, ids) in zip(reference.cases, expected) {
            #expect(tokenizer.encode(c.text, addSpecial: false) == ids, "\(pre): \(c.text.debugDescription)")
        }
    }

    @Test("decode(encode(s)) gives s back byte for byte")
    func roundTrip() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        for c in try TokenizerReference.shared.get().cases {
            let ids = tokenizer.encode(c.text, addSpecial: false)
            #expect(tokenizer.decodeBytes(ids) == Array(c.text.utf8), "text: \(c.text.debugDescription)")
            #expect(tokenizer.decode(ids) == c.text)
        }
    }

    @Test("pieces equal llama_token_to_piece's bytes")
    func pieces() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        let reference = try TokenizerReference.shared.get()
        #expect(!reference.pieces.isEmpty)
        for (id, hex) in reference.pieces {
            let expected = stride(from: 0, to: hex.count, by: 2).map {
                UInt8(hex.dropFirst($0).prefix(2), radix: 16)!
            }
            #expect(tokenizer.piece(Int32(id)!) == expected, "token \(id)")
        }
    }

    @Test("special ids and end of generation equal llama.cpp's")
    func specialTokens() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        let reference = try TokenizerReference.shared.get()
        #expect(tokenizer.count == reference.nVocab)
        #expect(tokenizer.bos == reference.bos)
        #expect(tokenizer.eos == reference.eos)
        #expect(tokenizer.eot == reference.eot)
        #expect(tokenizer.addsBOS == reference.addBos)
        #expect(tokenizer.endOfGeneration == reference.eog)
        let imEnd = try #require(tokenizer.id(of: "<|im_end|>"))
        #expect(tokenizer.isEndOfGeneration(imEnd))
        #expect(!tokenizer.isEndOfGeneration(try #require(tokenizer.id(of: "<|im_start|>"))))
    }

    @Test("without parseSpecial, control-token text is plain text")
    func controlTextWithoutParsing() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        let start = try #require(tokenizer.id(of: "<|im_start|>"))
        #expect(tokenizer.encode("<|im_start|>", parseSpecial: true) == [start])
        let plain = tokenizer.encode("<|im_start|>", parseSpecial: false)
        #expect(plain.count > 1 && !plain.contains(start))
        #expect(tokenizer.decode(plain) == "<|im_start|>")
    }

    @Test("10 KB of mixed text round-trips (BPE over words, cached)")
    func longText() throws {
        let tokenizer = try TokenizerReference.smolLM2.get()
        let corpus = try TokenizerReference.shared.get().cases.map(\.text).joined(separator: "\n")
        var text = ""
        while text.utf8.count < 10_000 { text += corpus }
        text += String(repeating: " ", count: 2000) + String(repeating: "7", count: 500)
        let ids = tokenizer.encode(text, addSpecial: false)
        #expect(tokenizer.decode(ids) == text)
    }
}

@Suite("Pre-tokenizers split as llama.cpp's regexes do")
struct PreTokenizerTests {
    func words(_ pre: String?, _ text: String) throws -> [String] {
        let scalars = Array(text.unicodeScalars)
        return try PreTokenizer(named: pre).split(scalars).map { range in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            return String(s)
        }
    }

    @Test func smollmIsolatesEachDigit() throws {
        #expect(try words("smollm", "abc 123") == ["abc", " ", "1", "2", "3"])
        #expect(try words("smollm", "I'm  here") == ["I", "'m", " ", " here"])
    }

    @Test func llama3GroupsThreeDigitsAndMatchesContractionsInAnyCase() throws {
        #expect(try words("llama-bpe", "abc 12345") == ["abc", " ", "123", "45"])
        #expect(try words("llama-bpe", "HE'LL\n\nok") == ["HE", "'LL", "\n\n", "ok"])
        #expect(try words("llama-bpe", "x  \n y") == ["x", "  \n", " y"])
    }

    @Test func qwen2IsolatesEachDigit() throws {
        #expect(try words("qwen2", "x 12") == ["x", " ", "1", "2"])
    }

    @Test func gpt2KeepsDigitRunsAndLowerCaseContractions() throws {
        #expect(try words("gpt-2", "a 12345 it'S") == ["a", " 12345", " it", "'", "S"])
    }

    @Test func defaultSplitsPunctuationAndDigitTriples() throws {
        #expect(try words(nil, "a+b==12345") == ["a", "+", "b", "==", "123", "45"])
    }

    @Test func unknownNameIsAnError() {
        #expect(throws: LanguageModelError.self) { try PreTokenizer(named: "no-such-pre") }
    }
}

@Suite("SentencePiece on a hand-made vocabulary")
struct SentencePieceTests {
    /// 0 <unk>, 1 <s>, 2 </s>, byte tokens for "\n" and "é" (C3 A9), single characters, and merges whose
    /// scores decide the order: "ll" (-1) before "he" (-2) before "▁he" (-3) before "llo" (-4).
    static func tokenizer() throws -> Tokenizer {
        let entries: [(String, TokenType, Float)] = [
            ("<unk>", .unknown, 0), ("<s>", .control, 0), ("</s>", .control, 0),
            ("<0x0A>", .byte, 0), ("<0xC3>", .byte, 0), ("<0xA9>", .byte, 0),
            ("▁", .normal, -10), ("h", .normal, -11), ("e", .normal, -12), ("l", .normal, -13), ("o", .normal, -14),
            ("ll", .normal, -1), ("he", .normal, -2), ("▁he", .normal, -3), ("llo", .normal, -4),
        ]
        let vocabulary = Vocabulary(
            model: .sentencePiece, tokens: entries.map(\.0), types: entries.map(\.1), scores: entries.map(\.2))
        return try Tokenizer(vocabulary: vocabulary)
    }

    @Test("merges by score, highest first")
    func mergesByScore() throws {
        let t = try Self.tokenizer()
        // "▁hello": ll, then he, then ▁he, then llo; "▁hello" itself is no token.
        #expect(t.encode("hello") == [1, 13, 14])
        #expect(t.encode("hello", addSpecial: false) == [13, 14])
    }

    @Test("equal scores merge leftmost first")
    func leftmostFirst() throws {
        // "▁lll": both "ll" pairs score -1; the left one wins, leaving "l".
        #expect(try Self.tokenizer().encode("lll", addSpecial: false) == [6, 11, 9])
    }

    @Test("characters without a token fall back to <0xXX> bytes")
    func byteFallback() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("hé", addSpecial: false) == [6, 7, 4, 5])
        #expect(t.encode("he\nll", addSpecial: false) == [13, 3, 11])
        #expect(t.piece(4) == [0xC3])
        #expect(t.decode([6, 7, 4, 5]) == "hé")
    }

    @Test("special tokens split the text, and each text after one gets the space prefix")
    func specialTokensAndSpacePrefix() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("hello</s>hello") == [1, 13, 14, 2, 13, 14])
        #expect(t.encode("hello</s>hello", parseSpecial: false).contains(2) == false)
        #expect(t.decode(t.encode("hello", addSpecial: false)) == "hello")
        #expect(t.bos == 1 && t.eos == 2 && t.isEndOfGeneration(2))
    }
}

@Suite("SentencePiece against llama.cpp")
struct SentencePieceReferenceTests {
    @Test("ids equal llama_tokenize on a small SentencePiece vocabulary, every text, all three ways")
    func idsMatchLlamaCpp() throws {
        let reference = try TokenizerReference.shared.get().sentencepiece
        let vocabulary = Vocabulary(
            model: .sentencePiece, tokens: reference.tokens,
            types: reference.types.map { TokenType(rawValue: $0) ?? .undefined }, scores: reference.scores)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(reference.texts.count == reference.cases.count && reference.cases.count >= 360)
        for (text, c) in zip(reference.texts, reference.cases) {
            #expect(tokenizer.encode(text) == c.addSpecial, "text: \(text.debugDescription)")
            #expect(tokenizer.encode(text, addSpecial: false) == c.noSpecial, "text: \(text.debugDescription)")
            #expect(
                tokenizer.encode(text, addSpecial: false, parseSpecial: false) == c.noParse,
                "text: \(text.debugDescription)")
        }
    }
}

@Suite("Malformed vocabularies are clear errors")
struct VocabularyErrorTests {
    /// A GGUF (version 3, no tensors) holding `entries` as metadata.
    enum Value {
        case string(String)
        case strings([String])
        case int32s([Int32])
        case uint32(UInt32)
        case bool(Bool)
    }

    static func gguf(_ entries: [(String, Value)]) throws -> GGUFFile {
        var w = GGUFWriter(tensors: 0, metadata: entries.count)
        for (key, value) in entries {
            switch value {
            case .string(let s):
                w.entry(key, string: s)
            case .strings(let list):
                w.string(key)
                w.u32(9)
                w.u32(8)
                w.u64(UInt64(list.count))
                for s in list { w.string(s) }
            case .int32s(let list):
                w.string(key)
                w.u32(9)
                w.u32(5)
                w.u64(UInt64(list.count))
                for v in list { w.u32(UInt32(bitPattern: v)) }
            case .uint32(let v):
                w.entry(key, u32: v)
            case .bool(let v):
                w.string(key)
                w.u32(7)
                w.append([v ? 1 : 0])
            }
        }
        return try w.file()
    }

    static let tokens = ("tokenizer.ggml.tokens", Value.strings(["a", "b", "ab"]))
    static let merges = ("tokenizer.ggml.merges", Value.strings(["a b"]))

    func failure(_ entries: [(String, Value)]) throws -> LanguageModelError? {
        let file = try Self.gguf(entries)
        do {
            _ = try Tokenizer(file)
            return nil
        } catch {
            return error
        }
    }

    @Test func aWellFormedVocabularyLoads() throws {
        let file = try Self.gguf([
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")), Self.tokens,
            Self.merges,
        ])
        let t = try Tokenizer(file)
        #expect(t.encode("ab") == [2])
        #expect(t.encode("ba") == [1, 0])
    }

    @Test func missingModel() throws {
        #expect(try failure([Self.tokens]) == .badVocabulary("the GGUF has no tokenizer.ggml.model"))
    }

    @Test func unsupportedModel() throws {
        guard case .unsupportedTokenizer(let m) = try failure([("tokenizer.ggml.model", .string("bert")), Self.tokens])
        else {
            Issue.record("expected unsupportedTokenizer")
            return
        }
        #expect(m.contains("bert"))
    }

    @Test func missingTokensOrMerges() throws {
        #expect(
            try failure([("tokenizer.ggml.model", .string("gpt2"))])
                == .badVocabulary("the GGUF has no tokenizer.ggml.tokens"))
        guard case .badVocabulary(let m) = try failure([("tokenizer.ggml.model", .string("gpt2")), Self.tokens]) else {
            Issue.record("expected badVocabulary")
            return
        }
        #expect(m.contains("merges"))
    }

    @Test func wrongTypes() throws {
        let model = ("tokenizer.ggml.model", Value.string("gpt2"))
        guard case .badVocabulary = try failure([model, ("tokenizer.ggml.tokens", .string("a")), Self.merges]) else {
            Issue.record("tokens as a string")
            return
        }
        guard
            case .badVocabulary = try failure([
                model, Self.tokens, Self.merges, ("tokenizer.ggml.token_type", .int32s([1])),
            ])
        else {
            Issue.record("too few token types")
            return
        }
        guard
            case .badVocabulary = try failure([
                model, Self.tokens, Self.merges, ("tokenizer.ggml.add_bos_token", .uint32(1)),
            ])
        else {
            Issue.record("add_bos_token as an integer")
            return
        }
        guard case .badVocabulary = try failure([model, Self.tokens, ("tokenizer.ggml.merges", .strings(["ab"]))])
        else {
            Issue.record("merge without a space")
            return
        }
        guard case .badVocabulary = try failure([model, ("tokenizer.ggml.tokens", .strings(["a", "a"])), Self.merges])
        else {
            Issue.record("duplicate token")
            return
        }
    }

    @Test func unknownPreTokenizer() throws {
        let entries: [(String, Value)] = [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("martian")), Self.tokens,
            Self.merges,
        ]
        guard case .unsupportedTokenizer(let m) = try failure(entries) else {
            Issue.record("expected unsupportedTokenizer")
            return
        }
        #expect(m.contains("martian"))
    }
}
