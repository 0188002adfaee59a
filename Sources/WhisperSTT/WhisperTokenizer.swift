// Whisper's token ids and text: the vocabulary of a CTranslate2 Whisper model (vocabulary.txt, one
// token per line, line index = id; or vocabulary.json) with GPT-2's byte-level encoding, and the special
// tokens resolved by name as CTranslate2's WhisperReplica does (src/models/whisper.cc).
// Byte-level decoding follows GPT-2's bytes_to_unicode (openai/whisper whisper/tokenizer.py via tiktoken).

import Foundation

/// Token ids and their text for one Whisper model.
public struct WhisperTokenizer: Sendable {
    /// Token strings by id, in GPT-2's byte-level alphabet (`Ġ` is a space).
    public let tokens: [String]
    public let endOfText: Int32
    public let startOfTranscript: Int32
    public let transcribe: Int32?
    public let translate: Int32?
    public let startOfPrevious: Int32?
    public let startOfLM: Int32?
    public let noSpeech: Int32?
    public let noTimestamps: Int32
    /// `<|0.00|>`; timestamps run to the last id, 0.02 s apart.
    public let timestampBegin: Int32
    /// Language tokens by code (`en` → `<|en|>`); empty for English-only models.
    public let languages: [String: Int32]
    /// Whether the model is multilingual (51865 or more tokens; English-only models have 51864).
    public var isMultilingual: Bool { tokens.count >= 51_865 }

    private static let byteDecoder: [Character: UInt8] = {
        // GPT-2: printable bytes map to themselves, the other 68 to U+0100 onwards, in byte order.
        var table: [Character: UInt8] = [:]
        var next: UInt32 = 256
        for b in 0...255 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let scalar =
                printable
                ? UInt32(b)
                : {
                    defer { next += 1 }
                    return next
                }()
            table[Character(Unicode.Scalar(scalar)!)] = UInt8(b)
        }
        return table
    }()

    /// Reads the vocabulary of the model in `directory` (vocabulary.json, else vocabulary.txt).
    public init(directory: URL) throws {
        let json = directory.appending(path: "vocabulary.json")
        let text = directory.appending(path: "vocabulary.txt")
        if FileManager.default.fileExists(atPath: json.path) {
            guard let list = try? JSONDecoder().decode([String].self, from: Data(contentsOf: json)) else {
                throw WhisperError("\(json.path): not a JSON list of tokens")
            }
            try self.init(tokens: list)
        } else {
            guard let data = try? Data(contentsOf: text) else {
                throw WhisperError("\(directory.path): no vocabulary.txt or vocabulary.json")
            }
            var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
            if lines.last == "" { lines.removeLast() }
            // A trailing \r is dropped only when every line has one (CTranslate2's vocabulary.cc).
            if !lines.isEmpty && lines.allSatisfy({ $0.hasSuffix("\r") }) {
                lines = lines.map { String($0.dropLast()) }
            }
            try self.init(tokens: lines)
        }
    }

    /// Builds the tokenizer from token strings by id.
    public init(tokens: [String]) throws {
        self.tokens = tokens
        var index: [String: Int32] = [:]
        for (i, t) in tokens.enumerated() where t.hasPrefix("<|") { index[t] = Int32(i) }
        guard let eot = index["<|endoftext|>"], let sot = index["<|startoftranscript|>"],
            let noTimestamps = index["<|notimestamps|>"]
        else { throw WhisperError("the vocabulary lacks Whisper's special tokens") }
        endOfText = eot
        startOfTranscript = sot
        self.noTimestamps = noTimestamps
        timestampBegin = noTimestamps + 1
        transcribe = index["<|transcribe|>"]
        translate = index["<|translate|>"]
        startOfPrevious = index["<|startofprev|>"]
        startOfLM = index["<|startoflm|>"]
        noSpeech = index["<|nospeech|>"] ?? index["<|nocaptions|>"]
        var languages: [String: Int32] = [:]
        if tokens.count >= 51_865 {
            for id in (sot + 1)..<(translate ?? sot + 1) {
                let t = tokens[Int(id)]
                languages[String(t.dropFirst(2).dropLast(2))] = id
            }
        }
        self.languages = languages
    }

    /// Whether `id` is a timestamp token.
    public func isTimestamp(_ id: Int32) -> Bool { id >= timestampBegin }

    /// Seconds a timestamp token stands for (relative to its window).
    public func seconds(of id: Int32) -> Double { Double(id - timestampBegin) * 0.02 }

    /// The text of `ids`, special and timestamp tokens left out; invalid UTF-8 is replaced.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < endOfText {
            for ch in tokens[Int(id)] {
                if let b = Self.byteDecoder[ch] {
                    bytes.append(b)
                } else {
                    bytes.append(contentsOf: Array(String(ch).utf8))
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
