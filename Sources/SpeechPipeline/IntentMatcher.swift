// IntentMatcher: the built-in intents, recognised by patterns read from an intents file (Resources/intents.json by
// default), and the messages Hark answers with. The code knows what each intent does; the file knows how people
// say it and what Hark says back.

import Foundation

/// What a built-in intent does.
public enum IntentKind: String, Sendable, Codable, CaseIterable {
    case time
    case date
    case setTimer = "timer.set"
    case cancelTimer = "timer.cancel"
    case queryTimer = "timer.query"
    case stop
    case `repeat`
    case help
}

/// The intents file: patterns per intent, in matching order, and the messages.
public struct IntentsFile: Codable, Sendable, Equatable {
    /// One intent's patterns.
    public struct Entry: Codable, Sendable, Equatable {
        public var intent: String
        public var patterns: [String]

        public init(intent: String, patterns: [String]) {
            self.intent = intent
            self.patterns = patterns
        }
    }

    public var intents: [Entry]
    public var messages: [String: String]

    public init(intents: [Entry], messages: [String: String]) {
        self.intents = intents
        self.messages = messages
    }

    /// Message keys the code uses; a file must define them all.
    public static let requiredMessages = [
        "time", "date", "timerSet", "timerNeedsDuration", "timerCancelled", "timersCancelled", "noTimer",
        "timerRemaining", "timerFired", "nothingToRepeat", "help", "chatFailed", "noChat", "wakeAcknowledgement",
    ]

    /// The intents file shipped with Hark.
    public static var defaultURL: URL? {
        Bundle.module.url(forResource: "intents", withExtension: "json", subdirectory: "Resources")
    }
}

/// Finds the built-in intent a transcript asks for.
public struct IntentMatcher: Sendable {
    private let rules: [(IntentKind, [NSRegularExpression])]
    /// The messages, by key.
    public let messages: [String: String]

    /// Reads and compiles an intents file (nil: the default one).
    /// - Throws: `PipelineError` `.invalidIntents` naming the file and the problem.
    public init(path: String? = nil) throws(PipelineError) {
        guard let url = path.map({ URL(fileURLWithPath: $0) }) ?? IntentsFile.defaultURL else {
            throw PipelineError(
                .invalidIntents, "the default intents file is missing from the SpeechPipeline resources")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PipelineError(.invalidIntents, "cannot read the intents file \(url.path)", subject: url.path)
        }
        let file: IntentsFile
        do {
            file = try JSONDecoder().decode(IntentsFile.self, from: data)
        } catch {
            throw PipelineError(
                .invalidIntents,
                "\(url.path) is not a valid intents file: \(PipelineConfiguration.explain(error, in: data))",
                subject: url.path)
        }
        do {
            try self.init(file)
        } catch {
            throw PipelineError(.invalidIntents, "\(url.path): \(error.message)", subject: url.path)
        }
    }

    /// Compiles intents already read.
    public init(_ file: IntentsFile) throws(PipelineError) {
        var rules: [(IntentKind, [NSRegularExpression])] = []
        for entry in file.intents {
            guard let kind = IntentKind(rawValue: entry.intent) else {
                let known = IntentKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw PipelineError(.invalidIntents, "unknown intent '\(entry.intent)' (known: \(known))")
            }
            var expressions: [NSRegularExpression] = []
            for pattern in entry.patterns {
                do {
                    expressions.append(try NSRegularExpression(pattern: pattern))
                } catch {
                    throw PipelineError(.invalidIntents, "intent '\(entry.intent)': bad pattern '\(pattern)'")
                }
            }
            rules.append((kind, expressions))
        }
        let missing = IntentsFile.requiredMessages.filter { file.messages[$0] == nil }
        guard missing.isEmpty else {
            throw PipelineError(.invalidIntents, "messages missing: \(missing.joined(separator: ", "))")
        }
        self.rules = rules
        messages = file.messages
    }

    /// The intent `transcript` asks for, or nil when none matches (a question for the language model).
    public func match(_ transcript: String) -> IntentKind? {
        let text = Self.normalize(transcript)
        guard !text.isEmpty else { return nil }
        let range = NSRange(text.startIndex..., in: text)
        for (kind, expressions) in rules
        where expressions.contains(where: { $0.firstMatch(in: text, range: range) != nil }) {
            return kind
        }
        return nil
    }

    /// A message with its `{placeholders}` filled in.
    public func message(_ key: String, _ values: [String: String] = [:]) -> String {
        var text = messages[key] ?? ""
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// Lower case, apostrophes kept, every other non-alphanumeric character a space, single spaces: the form
    /// patterns and wake phrases are matched against.
    public static func normalize(_ text: String) -> String {
        let characters = Array(text.lowercased())
        var out = ""
        var space = true
        for (i, character) in characters.enumerated() {
            let c: Character = character == "\u{2019}" ? "'" : character
            // A decimal point between digits stays ("1.5 minutes").
            let decimal =
                c == "." && i > 0 && i + 1 < characters.count && characters[i - 1].isNumber
                && characters[i + 1].isNumber
            if c.isLetter || c.isNumber || c == "'" || decimal {
                out.append(c)
                space = false
            } else if !space {
                out.append(" ")
                space = true
            }
        }
        if out.hasSuffix(" ") { out.removeLast() }
        return out
    }
}

/// The wake phrase check: with a phrase set, only transcripts that start with it are requests.
public struct WakePhrase: Sendable, Equatable {
    /// The phrase, normalized.
    public let words: String

    /// A wake phrase; nil when `phrase` has no words.
    public init?(_ phrase: String) {
        let words = IntentMatcher.normalize(phrase)
        guard !words.isEmpty else { return nil }
        self.words = words
    }

    /// The request after the phrase ("" when the phrase was said alone), or nil when the transcript does not start
    /// with it.
    public func request(in transcript: String) -> String? {
        let text = IntentMatcher.normalize(transcript)
        guard text == words || text.hasPrefix(words + " ") else { return nil }
        // The rest in the transcript's own spelling is not needed: intents and the LLM both take normalized text.
        return String(text.dropFirst(words.count)).trimmingCharacters(in: .whitespaces)
    }
}
