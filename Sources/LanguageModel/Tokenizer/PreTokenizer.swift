// The byte-level BPE pre-tokenizers, as llama.cpp defines them per `tokenizer.ggml.pre`:
// https://github.com/ggml-org/llama.cpp/blob/master/src/llama-vocab.cpp (`llm_tokenizer_bpe`, the regex lists) and
// https://github.com/ggml-org/llama.cpp/blob/master/src/unicode.cpp (`unicode_regex_split` and its hand-written
// `unicode_regex_split_custom_gpt2` / `_llama3` / `_qwen2` scanners). Each regex is a scanner here, over Unicode
// scalars with general categories, so \p{L} and \p{N} mean what the Unicode tables say.

/// Splits text into the words BPE merges within, the way one of llama.cpp's pre-tokenizers does.
///
/// llama.cpp applies a list of regexes in turn: each one splits every piece the previous ones left into
/// matches and the unmatched text between them. `stages` is that list.
struct PreTokenizer: Sendable, Hashable {
    enum Stage: Sendable, Hashable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (GPT-2).
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// (Llama 3 with n = 3, Qwen2 with n = 1).
        case llama3(digits: Int)
        /// `\p{N}`: every number scalar on its own.
        case eachNumber
        /// `\p{N}+`.
        case numberRuns
        /// `[\p{P}\$\+<=>\^~\|]+` (llama.cpp's "default" pre-tokenizer).
        case punctuationRuns
        /// `[0-9][0-9][0-9]`.
        case asciiDigitTriples
    }

    let stages: [Stage]

    /// `tokenizer.ggml.pre` names that use the Llama 3 regex and, as llama.cpp sets for them, ignore merges
    /// for words that are whole tokens and add BOS by default.
    static let llama3Names: Set<String> = [
        "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
    ]

    /// Whether llama.cpp looks a whole word up before merging (`ignore_merges`).
    let ignoresMerges: Bool

    /// The pre-tokenizer `tokenizer.ggml.pre` names (nil: llama.cpp's "default", which it warns about).
    /// - Throws: `LanguageModelError.unsupportedTokenizer` for a name not implemented here.
    init(named name: String?) throws(LanguageModelError) {
        let gpt2Family: Set<String> = [
            "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
            "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "jina-v1-en",
            "jina-v2-code", "roberta-bpe",
        ]
        let starcoderFamily: Set<String> = [
            "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2",
        ]
        let qwen2Family: Set<String> = [
            "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2",
        ]
        switch name {
        case nil, "default":
            stages = [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples]
            ignoresMerges = false
        case let name? where Self.llama3Names.contains(name):
            stages = [.llama3(digits: 3)]
            ignoresMerges = true
        case "dbrx", "smaug-bpe", "chatglm-bpe":
            stages = [.llama3(digits: 3)]
            ignoresMerges = false
        case let name? where gpt2Family.contains(name):
            stages = [.gpt2]
            ignoresMerges = false
        case let name? where starcoderFamily.contains(name):
            stages = [.eachNumber, .gpt2]
            ignoresMerges = false
        case let name? where qwen2Family.contains(name):
            stages = [.llama3(digits: 1)]
            ignoresMerges = false
        case let name?:
            throw .unsupportedTokenizer(
                "pre-tokenizer '\(name)' (Hark implements llama.cpp's default, gpt-2, llama3, smollm/starcoder and "
                    + "qwen2 families)")
        }
    }

    /// The words of `scalars`, as ranges of scalar indices, in order and covering every scalar.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        guard !scalars.isEmpty else { return [] }
        let classes = scalars.map(ScalarClass.init)
        var pieces = [0..<scalars.count]
        for stage in stages {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                var scanner = Scanner(scalars: scalars, classes: classes, range: piece, output: next)
                next = []  // so the scanner's appends find its array unshared and do not copy it
                scanner.run(stage)
                next = scanner.output
            }
            pieces = next
        }
        return pieces
    }
}

/// The classes the pre-tokenizer regexes test, from llama.cpp's view of the Unicode tables: letters (L*),
/// numbers (N*), punctuation (P*), and White_Space (`\s`).
struct ScalarClass: Sendable, Hashable {
    let isLetter: Bool
    let isNumber: Bool
    let isPunctuation: Bool
    let isWhitespace: Bool

    init(_ scalar: Unicode.Scalar) {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            (isLetter, isNumber, isPunctuation) = (true, false, false)
        case .decimalNumber, .letterNumber, .otherNumber:
            (isLetter, isNumber, isPunctuation) = (false, true, false)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            (isLetter, isNumber, isPunctuation) = (false, false, true)
        default:
            (isLetter, isNumber, isPunctuation) = (false, false, false)
        }
        isWhitespace = properties.isWhitespace
    }
}

/// One stage over one piece: appends the piece's words to `output`.
private struct Scanner {
    let scalars: [Unicode.Scalar]
    let classes: [ScalarClass]
    let range: Range<Int>
    var output: [Range<Int>]
    /// Where the next word starts: everything before it has been emitted.
    var emitted: Int

    init(scalars: [Unicode.Scalar], classes: [ScalarClass], range: Range<Int>, output: [Range<Int>]) {
        self.scalars = scalars
        self.classes = classes
        self.range = range
        self.output = output
        self.emitted = range.lowerBound
    }

    /// Emits `emitted..<end` (nothing when empty).
    mutating func emit(upTo end: Int) {
        if end > emitted { output.append(emitted..<end) }
        emitted = end
    }

    func inside(_ i: Int) -> Bool { range.contains(i) }
    func value(_ i: Int) -> UInt32? { inside(i) ? scalars[i].value : nil }
    func isLetter(_ i: Int) -> Bool { inside(i) && classes[i].isLetter }
    func isNumber(_ i: Int) -> Bool { inside(i) && classes[i].isNumber }
    func isWhitespace(_ i: Int) -> Bool { inside(i) && classes[i].isWhitespace }
    /// `[^\s\p{L}\p{N}]`: any scalar of the piece that is none of those (unassigned ones included).
    func isOther(_ i: Int) -> Bool {
        inside(i) && !classes[i].isWhitespace && !classes[i].isLetter && !classes[i].isNumber
    }
    func isLineBreak(_ i: Int) -> Bool { value(i) == 0x0D || value(i) == 0x0A }

    mutating func run(_ stage: PreTokenizer.Stage) {
        switch stage {
        case .gpt2: gpt2()
        case .llama3(let digits): llama3(digits: digits)
        case .eachNumber: isolate(runs: false) { $0.isNumber }
        case .numberRuns: isolate(runs: true) { $0.isNumber }
        case .punctuationRuns: isolate(runs: true, Self.isDefaultPunctuation)
        case .asciiDigitTriples: asciiDigitTriples()
        }
        emit(upTo: range.upperBound)
    }

    /// `[\p{P}\$\+<=>\^~\|]`: llama.cpp matches ASCII by its own table (every ASCII punctuation or symbol but
    /// the backtick) and other scalars by category.
    static func isDefaultPunctuation(_ c: ScalarClass, _ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x5F, 0x7B...0x7E: true
        case 0..<0x80: false
        default: c.isPunctuation && !c.isWhitespace
        }
    }

    /// Single scalars (or maximal runs) that satisfy `matches` become words; the text between them too.
    mutating func isolate(runs: Bool, _ matches: (ScalarClass, Unicode.Scalar) -> Bool) {
        var i = range.lowerBound
        while i < range.upperBound {
            guard matches(classes[i], scalars[i]) else {
                i += 1
                continue
            }
            emit(upTo: i)
            i += 1
            while runs, i < range.upperBound, matches(classes[i], scalars[i]) { i += 1 }
            emit(upTo: i)
        }
    }

    mutating func isolate(runs: Bool, _ matches: (ScalarClass) -> Bool) {
        isolate(runs: runs) { c, _ in matches(c) }
    }

    func isDigit(_ i: Int) -> Bool { i < range.upperBound && (0x30...0x39).contains(scalars[i].value) }

    /// Leftmost non-overlapping matches of three ASCII digits.
    mutating func asciiDigitTriples() {
        var i = range.lowerBound
        while i < range.upperBound {
            if isDigit(i) && isDigit(i + 1) && isDigit(i + 2) {
                emit(upTo: i)
                i += 3
                emit(upTo: i)
            } else {
                i += 1
            }
        }
    }

    /// The length of an English contraction (`'s`, `'re`, …) starting at `i`, or 0. Llama 3 and Qwen2 match
    /// the letters case-insensitively; GPT-2 only in lower case.
    func contraction(at i: Int, caseInsensitive: Bool) -> Int {
        guard value(i) == 0x27, i + 1 < range.upperBound else { return 0 }
        let lower = { (v: UInt32?) -> UInt32? in
            guard let v else { return nil }
            return caseInsensitive && (0x41...0x5A).contains(v) ? v + 0x20 : v
        }
        let a = lower(value(i + 1))
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        guard i + 2 < range.upperBound else { return 0 }
        let b = lower(value(i + 2))
        // re ve ll
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }
        return 0
    }

    mutating func gpt2() {
        var i = range.lowerBound
        while i < range.upperBound {
            let n = contraction(at: i, caseInsensitive: false)
            if n > 0 {
                i += n
                emit(upTo: i)
                continue
            }
            // An optional single ASCII space before a letter, number or "other" run.
            let start = value(i) == 0x20 ? i + 1 : i
            if isLetter(start) {
                i = start
                while isLetter(i) { i += 1 }
                emit(upTo: i)
                continue
            }
            if isNumber(start) {
                i = start
                while isNumber(i) { i += 1 }
                emit(upTo: i)
                continue
            }
            if isOther(start) {
                i = start
                while isOther(i) { i += 1 }
                emit(upTo: i)
                continue
            }
            var spaces = 0
            while isWhitespace(i + spaces) { spaces += 1 }
            if spaces > 1 && inside(i + spaces) {
                // \s+(?!\S): the last space stays to prefix the next word.
                i += spaces - 1
            } else if spaces > 0 {
                i += spaces
            } else {
                i += 1
            }
            emit(upTo: i)
        }
    }

    mutating func llama3(digits: Int) {
        var i = range.lowerBound
        while i < range.upperBound {
            let n = contraction(at: i, caseInsensitive: true)
            if n > 0 {
                i += n
                emit(upTo: i)
                continue
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !isLineBreak(i) && !isNumber(i) && (isLetter(i) || isLetter(i + 1)) {
                i += 1
                while isLetter(i) { i += 1 }
                emit(upTo: i)
                continue
            }
            // \p{N}{1,digits}
            if isNumber(i) {
                var group = 0
                while isNumber(i) {
                    i += 1
                    group += 1
                    if group == digits {
                        emit(upTo: i)
                        group = 0
                    }
                }
                emit(upTo: i)
                continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'. llama.cpp tests the scalar itself (not the one after the space)
            // for being inside the piece, which every scalar is.
            let start = value(i) == 0x20 ? i + 1 : i
            if isOther(start) {
                i = start
                while isOther(i) { i += 1 }
                while isLineBreak(i) { i += 1 }
                emit(upTo: i)
                continue
            }
            var spaces = 0
            var afterLastBreak: Int?
            while isWhitespace(i + spaces) {
                if isLineBreak(i + spaces) { afterLastBreak = i + spaces + 1 }
                spaces += 1
            }
            if let afterLastBreak {
                // \s*[\r\n]+
                i = afterLastBreak
            } else if spaces > 1 && inside(i + spaces) {
                i += spaces - 1
            } else if spaces > 0 {
                i += spaces
            } else {
                i += 1
            }
            emit(upTo: i)
        }
    }
}
