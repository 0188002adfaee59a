// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json` (the file Whisper's CTranslate2 folders carry),
// turned into the same Vocabulary a GGUF gives, so that the one byte-level BPE here (BytePairEncoder with GPT-2's
// pre-tokenizer) encodes for it too. Format: https://huggingface.co/docs/tokenizers/api/models (BPE: `vocab`,
// `merges`) and https://huggingface.co/docs/tokenizers/api/pre-tokenizers (ByteLevel).

import Foundation

extension Tokenizer {
    /// The tokenizer a `tokenizer.json` describes; only byte-level BPE with GPT-2's split (what GPT-2 and Whisper
    /// use) is read. Ids no token names (Whisper's timestamps are not in the file) stay empty and match nothing.
    /// - Throws: `LanguageModelError.badVocabulary` for a file that is not a tokenizer, `.unsupportedTokenizer`
    ///   for another model or pre-tokenizer.
    public init(huggingFaceFile url: URL) throws(LanguageModelError) {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
                throw LanguageModelError.badVocabulary("\(url.path) is not a JSON object")
            }
            root = object
        } catch let error as LanguageModelError {
            throw error
        } catch {
            throw .badVocabulary("cannot read \(url.path): \(error)")
        }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE",
            let vocab = model["vocab"] as? [String: Int]
        else { throw .unsupportedTokenizer("\(url.path): only BPE models with a vocab are read") }
        let pre = root["pre_tokenizer"] as? [String: Any]
        guard pre?["type"] as? String == "ByteLevel", pre?["use_regex"] as? Bool ?? true,
            !(pre?["add_prefix_space"] as? Bool ?? false)
        else { throw .unsupportedTokenizer("\(url.path): only the ByteLevel pre-tokenizer (GPT-2's split) is read") }

        // Merges are "left right" strings in older files, [left, right] pairs in newer ones.
        let rawMerges = model["merges"] as? [Any] ?? []
        var merges: [String] = []
        merges.reserveCapacity(rawMerges.count)
        for merge in rawMerges {
            if let text = merge as? String {
                merges.append(text)
            } else if let pair = merge as? [String], pair.count == 2 {
                merges.append(pair[0] + " " + pair[1])
            } else {
                throw .badVocabulary("\(url.path): a merge is neither \"a b\" nor [a, b]")
            }
        }

        var byID: [Int: (text: String, type: TokenType)] = [:]
        for (text, id) in vocab { byID[id] = (text, .normal) }
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = added["id"] as? Int, let text = added["content"] as? String else { continue }
            byID[id] = (text, added["special"] as? Bool ?? false ? .control : .userDefined)
        }
        guard let last = byID.keys.max(), byID.keys.min() ?? -1 >= 0, last < 1 << 24 else {
            throw .badVocabulary("\(url.path): token ids are missing or out of range")
        }
        var tokens = [String](repeating: "", count: last + 1)
        var types = [TokenType](repeating: .unused, count: last + 1)
        for (id, token) in byID { (tokens[id], types[id]) = (token.text, token.type) }
        try self.init(
            vocabulary: Vocabulary(
                model: .bytePairEncoding, preTokenizer: "gpt-2", tokens: tokens, types: types, merges: merges))
    }
}
