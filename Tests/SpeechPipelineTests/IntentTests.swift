// Intent matching from the shipped intents file, wake phrases, spoken durations, and the assistant's timers on an
// injected clock.

import Foundation
import LanguageModel
import SpeechPipeline
import Testing

@Suite("Intents")
struct IntentTests {
    let matcher: IntentMatcher

    init() throws {
        matcher = try IntentMatcher()
    }

    @Test(
        "The default intents file recognises how people ask",
        arguments: [
            ("What time is it?", IntentKind.time), ("What's the time?", .time), ("Tell me the time, please.", .time),
            ("What is the date today?", .date), ("What day is it?", .date),
            ("Set a timer for 5 minutes.", .setTimer), ("Start a timer for ten seconds", .setTimer),
            ("Cancel the timer.", .cancelTimer), ("Stop my timers", .cancelTimer),
            ("How much time is left on my timer?", .queryTimer), ("How long is left?", .queryTimer),
            ("Stop.", .stop), ("Never mind.", .stop), ("Be quiet please", .stop),
            ("Repeat that.", .repeat), ("Say that again?", .repeat), ("What can you do?", .help),
        ])
    func matches(text: String, intent: IntentKind) {
        #expect(matcher.match(text) == intent)
    }

    @Test(
        "Other questions go to the language model",
        arguments: [
            "What is the capital of France?", "Go forward ten meters.", "Stop the war in my head", "Tell me a joke",
            "",
        ])
    func noMatch(text: String) {
        #expect(matcher.match(text) == nil)
    }

    @Test("Patterns and messages come from the file: another file changes them")
    func customFile() throws {
        let file = IntentsFile(
            intents: [.init(intent: "time", patterns: ["\\bclock\\b"])],
            messages: Dictionary(uniqueKeysWithValues: IntentsFile.requiredMessages.map { ($0, "m-\($0)") }))
        let custom = try IntentMatcher(file)
        #expect(custom.match("Look at the clock") == .time)
        #expect(custom.match("What time is it?") == nil)
        #expect(custom.message("time") == "m-time")
    }

    @Test("Malformed intents files are clear errors")
    func malformed() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "hark-intents-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = [
            ("{ not json", "not a valid intents file"),
            (#"{"intents": [{"intent": "dance", "patterns": ["x"]}], "messages": {}}"#, "unknown intent 'dance'"),
            (#"{"intents": [{"intent": "time", "patterns": ["(unclosed"]}], "messages": {}}"#, "bad pattern"),
            (#"{"intents": [], "messages": {"time": "x"}}"#, "messages missing"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let path = folder.appending(path: "\(i).json").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try IntentMatcher(path: path)
            } throws: { error in
                (error as? PipelineError)?.code == .invalidIntents && "\(error)".contains(expected)
                    && "\(error)".contains(path)
            }
        }
        #expect(throws: PipelineError.self) { try IntentMatcher(path: folder.appending(path: "missing.json").path) }
    }

    @Test("Normalizing and the wake phrase")
    func wakePhrase() throws {
        #expect(IntentMatcher.normalize("  Hey, Hark!  What's the TIME? ") == "hey hark what's the time")
        let wake = try #require(WakePhrase("Hey Hark"))
        #expect(wake.request(in: "Hey, Hark. What time is it?") == "what time is it")
        #expect(wake.request(in: "Hey Hark!") == "")
        #expect(wake.request(in: "What time is it?") == nil)
        #expect(wake.request(in: "Hey Harkness, hello") == nil)
        #expect(WakePhrase("  !! ") == nil)
    }

    @Test(
        "Spoken durations",
        arguments: [
            ("set a timer for 5 minutes", 300.0), ("timer for ten seconds", 10), ("one hour and 5 minutes", 3900),
            ("twenty five seconds", 25), ("a minute and 30 seconds", 90), ("half an hour", 1800),
            ("1.5 minutes", 90), ("an hour", 3600),
        ])
    func durations(text: String, seconds: Double) throws {
        let duration = try #require(SpokenDuration.parse(text))
        #expect(duration == .milliseconds(Int64(seconds * 1000)))
    }

    @Test func noDuration() {
        #expect(SpokenDuration.parse("set a timer") == nil)
        #expect(SpokenDuration.parse("five") == nil)
        #expect(SpokenDuration.describe(.seconds(3900)) == "1 hour and 5 minutes")
        #expect(SpokenDuration.describe(.seconds(1)) == "1 second")
        #expect(SpokenDuration.describe(.seconds(3725)) == "1 hour, 2 minutes and 5 seconds")
    }
}

@Suite("Timers and the assistant's built-in answers")
struct AssistantTests {
    /// 2026-03-04 15:42:10 UTC.
    static let fixedDate = Date(timeIntervalSince1970: 1_772_638_930)

    static func assistant(chat: (any ChatBackend)? = nil) throws -> Assistant {
        var settings = PipelineConfiguration.LLMSettings()
        settings.url = nil
        return Assistant(
            intents: try IntentMatcher(), chat: chat, settings: settings, now: { fixedDate },
            timeZone: TimeZone(identifier: "UTC")!)
    }

    /// The sentences of a reply, joined.
    static func text(_ reply: AssistantReply) async throws -> String {
        guard case .speak(_, let sentences) = reply else { return "<stop>" }
        var texts: [String] = []
        for try await sentence in sentences { texts.append(sentence.text) }
        return texts.joined(separator: " ")
    }

    @Test("The time and the date from the injected clock")
    func timeAndDate() async throws {
        let assistant = try Self.assistant()
        #expect(try await Self.text(await assistant.respond(to: "What time is it?", at: .zero)) == "It is 3:42 PM.")
        #expect(
            try await Self.text(await assistant.respond(to: "What's the date?", at: .zero))
                == "Today is Wednesday, March 4, 2026.")
    }

    @Test("Timers: set, query, fire on the pipeline clock, cancel")
    func timers() async throws {
        let assistant = try Self.assistant()
        #expect(
            try await Self.text(await assistant.respond(to: "How long is left on the timer?", at: .zero))
                == "There is no timer running.")
        #expect(
            try await Self.text(await assistant.respond(to: "Set a timer for 3 minutes", at: .seconds(10)))
                == "Timer set for 3 minutes.")
        #expect(await assistant.nextTimerDeadline == .seconds(190))
        #expect(
            try await Self.text(await assistant.respond(to: "How much time is left on my timer?", at: .seconds(70)))
                == "Your 3 minutes timer has 2 minutes left.")
        #expect(await assistant.dueTimers(at: .seconds(189)).isEmpty)
        #expect(await assistant.dueTimers(at: .seconds(190)) == ["Your 3 minutes timer is done."])
        #expect(await assistant.nextTimerDeadline == nil)

        _ = try await Self.text(await assistant.respond(to: "Set a timer for 10 seconds", at: .zero))
        _ = try await Self.text(await assistant.respond(to: "Set a timer for 20 seconds", at: .zero))
        #expect(
            try await Self.text(await assistant.respond(to: "Cancel all timers", at: .seconds(1)))
                == "All 2 timers cancelled.")
        #expect(await assistant.dueTimers(at: .seconds(60)).isEmpty)
        #expect(try await Self.text(await assistant.respond(to: "Set a timer", at: .zero)).hasPrefix("For how long?"))
    }

    @Test("Repeat says the last answer again; stop says nothing; help lists what Hark does")
    func repeatStopHelp() async throws {
        let assistant = try Self.assistant()
        #expect(
            try await Self.text(await assistant.respond(to: "Repeat that", at: .zero))
                == "I have not said anything yet.")
        await assistant.said("It is 3:42 PM.")
        #expect(try await Self.text(await assistant.respond(to: "Say that again", at: .zero)) == "It is 3:42 PM.")
        #expect(try await Self.text(await assistant.respond(to: "Stop!", at: .zero)) == "<stop>")
        #expect(try await Self.text(await assistant.respond(to: "What can you do?", at: .zero)).contains("timers"))
    }

    @Test("Without a language model, other questions get the 'cannot help' message")
    func noChat() async throws {
        let assistant = try Self.assistant()
        #expect(
            try await Self.text(await assistant.respond(to: "Why is the sky blue?", at: .zero))
                == "Sorry, I don't know how to help with that.")
    }

    /// A language model that answers in pieces or fails.
    struct ScriptedChat: ChatBackend {
        var pieces: [String]
        var failure: PipelineError?

        func reply(to messages: [ChatMessage]) -> AsyncThrowingStream<String, any Error> {
            AsyncThrowingStream { continuation in
                for piece in pieces { continuation.yield(piece) }
                continuation.finish(throwing: failure)
            }
        }
    }

    @Test("A chat reply arrives sentence by sentence; a failing model gives the apology")
    func chat() async throws {
        let good = try Self.assistant(
            chat: ScriptedChat(pieces: ["The sky is bl", "ue because of Rayleigh scat", "tering. It is", " pretty."]))
        guard case .speak(nil, let sentences) = await good.respond(to: "Why is the sky blue?", at: .zero) else {
            Issue.record("expected a chat reply")
            return
        }
        var got: [ReplySentence] = []
        for try await sentence in sentences { got.append(sentence) }
        #expect(got.map(\.text) == ["The sky is blue because of Rayleigh scattering.", "It is pretty."])
        #expect(got.allSatisfy { $0.source == .chat })
        #expect(got[0].firstToken != nil)

        let bad = try Self.assistant(
            chat: ScriptedChat(pieces: [], failure: PipelineError(.chatFailed, "connection refused")))
        let reply = try await Self.text(await bad.respond(to: "Why is the sky blue?", at: .zero))
        #expect(reply.hasPrefix("Sorry, I can't answer that right now"))
    }
}
