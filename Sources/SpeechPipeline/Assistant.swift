// Assistant: the intent handler. It owns what the conversation remembers — the last answer, the timers, the recent
// exchanges sent to the language model — and answers a request with a stream of sentences to speak.

import Foundation
import LanguageModel
import Logging

/// One sentence of a reply, ready to speak.
public struct ReplySentence: Sendable, Equatable {
    /// Where a reply comes from.
    public enum Source: String, Sendable, Codable {
        /// A built-in intent.
        case intent
        /// The language model.
        case chat
        /// The apology for a language model that failed.
        case apology
    }

    public var text: String
    public var source: Source
    /// When the language model's first token arrived (on the first sentence of a chat reply).
    public var firstToken: ContinuousClock.Instant?
}

/// What to do with a request.
public enum AssistantReply: Sendable {
    /// Speak these sentences (streamed: a chat reply arrives sentence by sentence).
    case speak(intent: IntentKind?, AsyncThrowingStream<ReplySentence, any Error>)
    /// Stop speaking and say nothing.
    case stopSpeaking
}

/// Answers requests: built-in intents first, the language model for everything else.
public actor Assistant {
    private let intents: IntentMatcher
    private let chat: (any ChatBackend)?
    private let settings: PipelineConfiguration.LLMSettings
    private let now: @Sendable () -> Date
    private let timeZone: TimeZone
    private let logger = Logger(label: "hark.assistant")
    private var timers = TimerBook()
    private var history: [ChatMessage] = []
    /// The last thing Hark said (what "repeat" says again).
    public private(set) var lastAnswer: String?

    /// An assistant with `intents`, answering other questions with `chat` (nil: the "cannot help" message).
    /// - Parameters:
    ///   - now: the wall clock for the time and date intents.
    public init(
        intents: IntentMatcher, chat: (any ChatBackend)?, settings: PipelineConfiguration.LLMSettings,
        now: @escaping @Sendable () -> Date = { Date() }, timeZone: TimeZone = .current
    ) {
        self.intents = intents
        self.chat = chat
        self.settings = settings
        self.now = now
        self.timeZone = timeZone
    }

    /// A message of the intents file (e.g. the wake acknowledgement).
    public nonisolated func message(_ key: String) -> String { intents.message(key) }

    /// The reply to `request`; `time` is the pipeline's clock, which timers run on.
    public func respond(to request: String, at time: Duration) -> AssistantReply {
        guard let intent = intents.match(request) else { return .speak(intent: nil, chatReply(to: request)) }
        logger.info("intent \(intent.rawValue)")
        let text: String
        switch intent {
        case .stop:
            return .stopSpeaking
        case .time:
            text = intents.message("time", ["time": format("h:mm a")])
        case .date:
            text = intents.message("date", ["date": format("EEEE, MMMM d, yyyy")])
        case .setTimer:
            if let duration = SpokenDuration.parse(request) {
                timers.set(duration, now: time)
                text = intents.message("timerSet", ["duration": SpokenDuration.describe(duration)])
            } else {
                text = intents.message("timerNeedsDuration")
            }
        case .cancelTimer:
            let count = timers.cancelAll()
            text = intents.message(
                count == 0 ? "noTimer" : count == 1 ? "timerCancelled" : "timersCancelled", ["count": "\(count)"])
        case .queryTimer:
            if let (timer, remaining) = timers.next(now: time) {
                text = intents.message(
                    "timerRemaining",
                    [
                        "duration": SpokenDuration.describe(timer.duration),
                        "remaining": SpokenDuration.describe(remaining),
                    ])
            } else {
                text = intents.message("noTimer")
            }
        case .repeat:
            text = lastAnswer ?? intents.message("nothingToRepeat")
        case .help:
            text = intents.message("help")
        }
        return .speak(intent: intent, Self.sentences([ReplySentence(text: text, source: .intent)]))
    }

    /// Records what Hark actually said (a reply cut short by barge-in is remembered as far as it got).
    public func said(_ text: String) {
        if !text.isEmpty { lastAnswer = text }
    }

    /// When the next timer fires, on the pipeline's clock.
    public var nextTimerDeadline: Duration? { timers.nextDeadline }

    /// The announcements of the timers due at `time` (removing them).
    public func dueTimers(at time: Duration) -> [String] {
        timers.takeDue(now: time).map {
            intents.message("timerFired", ["duration": SpokenDuration.describe($0.duration)])
        }
    }

    // MARK: - The language model

    /// Streams the model's reply as sentences; a failure becomes the spoken apology.
    private func chatReply(to request: String) -> AsyncThrowingStream<ReplySentence, any Error> {
        guard let chat else {
            return Self.sentences([ReplySentence(text: intents.message("noChat"), source: .intent)])
        }
        var messages = [ChatMessage(.system, settings.systemPrompt)]
        messages += history.suffix(2 * settings.memoryTurns)
        messages.append(ChatMessage(.user, request))
        let apology = intents.message("chatFailed")
        let logger = self.logger
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ReplySentence.self, throwing: (any Error).self)
        let work = Task {
            var splitter = SentenceSplitter()
            var firstToken: ContinuousClock.Instant?
            var said: [String] = []
            func emit(_ sentence: String) {
                continuation.yield(ReplySentence(text: sentence, source: .chat, firstToken: firstToken))
                firstToken = nil
                said.append(sentence)
            }
            do {
                for try await piece in chat.reply(to: messages) {
                    if said.isEmpty, firstToken == nil { firstToken = ContinuousClock.now }
                    for sentence in splitter.add(piece) { emit(sentence) }
                }
                if let rest = splitter.finish() { emit(rest) }
                self.remember(request, said.joined(separator: " "))
                continuation.finish()
            } catch is CancellationError {
                continuation.finish(throwing: CancellationError())
            } catch {
                logger.error("language model: \(error)")
                continuation.yield(ReplySentence(text: apology, source: .apology))
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in work.cancel() }
        return stream
    }

    private func remember(_ request: String, _ answer: String) {
        guard !answer.isEmpty else { return }
        history += [ChatMessage(.user, request), ChatMessage(.assistant, answer)]
        history = Array(history.suffix(2 * max(settings.memoryTurns, 1)))
    }

    private func format(_ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = pattern
        return formatter.string(from: now())
    }

    private static func sentences(_ items: [ReplySentence]) -> AsyncThrowingStream<ReplySentence, any Error> {
        AsyncThrowingStream { continuation in
            for item in items { continuation.yield(item) }
            continuation.finish()
        }
    }
}
