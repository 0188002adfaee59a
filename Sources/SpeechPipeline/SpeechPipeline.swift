// SpeechPipeline: the assistant's conductor. It owns the state machine and the timeline; the stages own their
// resources:
//
//   ALSACapture ─chunks─▶ Listener (VAD + endpointer, in the capture task) ─events─▶ SpeechPipeline (state machine)
//        turn task: TranscriptionStage (Whisper) ─▶ Assistant (intents, timers, LLM) ─sentences─▶
//                   SpeechSynthesizer (Piper encoder/decoder stages) ─chunks─▶ Speaker (resampler + ALSAPlayback)
//
// Every hop is an await on a bounded queue or an actor, so a slow stage holds the one before it back; nothing polls.
// Time is counted in capture samples (16 kHz): barge-in latency and timers are measured on it, never on the wall
// clock. With `virtualTime` (file-backed ALSA devices, which are not paced) capture and playback are also paced
// against each other by sample counts, and processing takes no time in the audio's timeline.

import AudioIO
import Foundation
import Logging
import PiperTTS

/// The voice assistant: listens, transcribes, answers and speaks, one turn at a time, with barge-in.
///
/// ```swift
/// let pipeline = try SpeechPipeline(configuration: config, models: models, capture: microphone, speaker: speaker)
/// Task { for await event in pipeline.events { print(event) } }
/// try await pipeline.run()
/// ```
public actor SpeechPipeline {
    /// Capture rate: what the VAD and Whisper take.
    public static let sampleRate = 16_000

    /// What happens, in order. Keeps the newest 4096 events for a slow observer; finishes when `run()` returns.
    public nonisolated let events: AsyncStream<PipelineEvent>
    private let eventSink: AsyncStream<PipelineEvent>.Continuation

    private let configuration: PipelineConfiguration
    private let models: PipelineModels
    private let capture: ALSACapture
    private let speaker: Speaker
    private let assistant: Assistant
    private let wake: WakePhrase?
    private let logger = Logger(label: "hark.pipeline")

    private var machine: PipelineStateMachine
    /// The turn in progress (transcribing, thinking or speaking), and its number: reports from older turns are
    /// ignored.
    private var turn: Task<Void, Never>?
    private var turnNumber = 0
    /// A transcription started when the user paused, kept when the utterance ends there (`EndpointEvent.pause`): the
    /// silence that ends an utterance is then spent transcribing rather than waiting.
    private var speculation: (utterance: Utterance, transcript: Task<String, any Error>)?
    /// The wake phrase was said alone: the next utterance is the request.
    private var awaitingRequest = false
    /// Capture samples consumed so far: the pipeline's clock.
    private var captureTime = 0
    /// Where written playback has reached, in capture samples (virtual time).
    private var playbackTime = 0
    private var nextTimer: Duration?
    private var announcements: [String] = []
    private var inputEnded = false
    private var captureWaiter: CheckedContinuation<Void, Never>?
    private var playbackWaiter: CheckedContinuation<Void, Never>?

    /// A pipeline over opened devices and loaded models.
    /// - Parameters:
    ///   - chat: the language model (nil: as `configuration.llm` says: the server at its URL, else the in-process
    ///     model of `models`, or none when it is off).
    ///   - now: the wall clock for the time and date intents.
    public init(
        configuration: PipelineConfiguration, models: PipelineModels, capture: ALSACapture, speaker: Speaker,
        chat: (any ChatBackend)? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.models = models
        self.capture = capture
        self.speaker = speaker
        let backend = chat ?? Self.chatBackend(configuration.llm, models: models)
        assistant = Assistant(intents: models.intents, chat: backend, settings: configuration.llm, now: now)
        wake = configuration.wakePhrase.flatMap(WakePhrase.init)
        machine = PipelineStateMachine(bargeIn: configuration.bargeIn)
        (events, eventSink) = AsyncStream.makeStream(of: PipelineEvent.self, bufferingPolicy: .bufferingNewest(4096))
    }

    /// The assistant's language model as `llm` configures it.
    static func chatBackend(_ llm: PipelineConfiguration.LLMSettings, models: PipelineModels) -> (any ChatBackend)? {
        guard llm.enabled else { return nil }
        let timeout = Duration.milliseconds(Int64(llm.timeout * 1000))
        if let url = llm.url, !url.isEmpty {
            return OpenAIChatClient(
                url: url, model: llm.model, timeout: timeout, maxTokens: llm.maxTokens, apiKey: llm.apiKey)
        }
        guard let session = models.chatSession, let name = models.languageModel?.name else { return nil }
        return LocalChatBackend(session: session, name: name, timeout: timeout, maxTokens: llm.maxTokens)
    }

    /// The current state.
    public var state: PipelineState { machine.state }

    // MARK: - Running

    /// Listens until the input ends (after `inputSamples` capture samples, when given) or the task is cancelled;
    /// the turn in progress then completes. Finishes `events`.
    /// - Throws: `AudioIOError` when the capture device fails (overruns are recovered, not thrown).
    public nonisolated func run(inputSamples: Int? = nil) async throws {
        await emit(.state(.listening))
        var listener = Listener(detector: models.makeDetector(), settings: configuration.vad)
        // Virtual time reads a file of known length: keep every chunk. A live device drops the oldest beyond ~1 s
        // rather than letting memory grow when the consumer stalls.
        let chunks = capture.chunks(
            totalFrames: inputSamples, bufferingPolicy: configuration.virtualTime ? .unbounded : .bufferingNewest(50))
        var failure: (any Error)?
        do {
            for try await chunk in chunks {
                // A cancelled stream still hands out what it buffered (virtual time buffers without bound).
                if Task.isCancelled { break }
                let samples = try await mono16k(chunk)
                let events = try listener.feed(samples)
                if await captured(samples.count, events) { listener.reset() }
            }
        } catch is CancellationError {
        } catch {
            failure = error
            logger.error("capture failed: \(error)")
        }
        await endOfInput()
        if let failure { throw failure }
    }

    /// Stops the turn in progress and the speaker (the run loop ends when its task is cancelled).
    public func shutdown() async {
        dropSpeculation()
        turn?.cancel()
        turnNumber += 1
        await speaker.interrupt()
        inputEnded = true
        wakeWaiters()
    }

    // MARK: - Capture side

    private var captureResampler: Resampler?

    /// 16 kHz mono samples of a captured chunk.
    private func mono16k(_ chunk: PCMBuffer) throws -> [Float] {
        let mono = chunk.mixedToMono()
        guard mono.sampleRate != Self.sampleRate else { return mono.samples }
        if captureResampler == nil {
            captureResampler = try Resampler(from: mono.sampleRate, to: Self.sampleRate, quality: .medium)
        }
        return try captureResampler!.process(mono.samples)
    }

    /// Takes the endpointer's events for `count` new samples; returns whether the listener should forget what it
    /// is hearing (Hark is busy and barge-in is off: that is Hark's own voice or talk not meant for it).
    private func captured(_ count: Int, _ events: [EndpointEvent]) async -> Bool {
        captureTime += count
        // Playback may be waiting for capture to catch up.
        playbackWaiter.take()?.resume()
        for event in events {
            switch event {
            case .speechStarted(let onset):
                emit(.speechStarted(onset: onset))
                if machine.handle(.speechStarted) == .bargeIn { await bargeIn(onset: onset) }
            case .pause(let utterance):
                speculate(utterance)
            case .utterance(let utterance):
                let endOfSpeech = ContinuousClock.now
                emit(.utterance(start: utterance.start, end: utterance.end))
                switch machine.handle(.utteranceEnded) {
                case .transcribe: startTurn(utterance, endOfSpeech: endOfSpeech)
                default:
                    dropSpeculation()
                    logger.info("utterance dropped: busy in \(machine.state.rawValue)")
                }
            }
        }
        await fireTimers()
        let ignoreAudio = !configuration.bargeIn && machine.state != .listening
        await captureGate()
        return ignoreAudio
    }

    /// The pipeline's clock as a duration.
    private var now: Duration { .nanoseconds(Int64(captureTime) * 1_000_000_000 / Int64(Self.sampleRate)) }

    private func fireTimers() async {
        if let deadline = nextTimer, now >= deadline {
            let due = await assistant.dueTimers(at: now)
            for message in due { emit(.timerFired(message)) }
            announcements += due
            nextTimer = await assistant.nextTimerDeadline
        }
        guard !announcements.isEmpty, machine.state == .listening, turn == nil else { return }
        if machine.handle(.announcementDue) == .announce {
            emit(.state(machine.state))
            let texts = announcements
            announcements = []
            startAnnouncement(texts)
        }
    }

    private func bargeIn(onset: Int) async {
        let latency = captureTime - onset
        turn?.cancel()
        turn = nil
        turnNumber += 1
        await speaker.interrupt()
        logger.info("barge-in: playback stopped \(latency) samples after the onset")
        emit(.bargeIn(latency: latency))
        emit(.state(machine.state))
        wakeWaiters()
    }

    private func endOfInput() async {
        inputEnded = true
        wakeWaiters()
        if let turn { await turn.value }
        emit(.inputEnded(samples: captureTime))
        logger.info("input ended after \(captureTime) samples")
        eventSink.finish()
    }

    // MARK: - Virtual time

    /// With virtual time, capture waits while Hark transcribes or thinks (that takes no audio time) and does not
    /// run ahead of what playback has written while Hark speaks.
    private func captureGate() async {
        guard configuration.virtualTime else { return }
        while !inputEnded {
            switch machine.state {
            case .listening: return
            case .speaking where captureTime <= playbackTime: return
            default: await withCheckedContinuation { captureWaiter = $0 }
            }
        }
    }

    /// With virtual time, playback does not run more than one write ahead of capture; then notes `frames` played.
    private func playbackGate(turn number: Int, frames: Int) async {
        guard configuration.virtualTime else { return }
        while !inputEnded, number == turnNumber, playbackTime > captureTime {
            await withCheckedContinuation { playbackWaiter = $0 }
        }
        playbackTime += frames * Self.sampleRate / speaker.deviceRate
        wakeWaiters()
    }

    private func wakeWaiters() {
        captureWaiter.take()?.resume()
        playbackWaiter.take()?.resume()
    }

    // MARK: - Turns

    private func startTurn(_ utterance: Utterance, endOfSpeech: ContinuousClock.Instant) {
        emit(.state(machine.state))
        turnNumber += 1
        let number = turnNumber
        // The transcription started at the pause is of these very samples when no speech came since.
        let early = speculation?.utterance == utterance ? speculation?.transcript : nil
        if early == nil { dropSpeculation() }
        speculation = nil
        turn = Task { await self.runTurn(number, utterance, endOfSpeech: endOfSpeech, early: early) }
    }

    /// Starts transcribing what the user said before pausing (only while listening: a busy pipeline drops
    /// utterances). Whisper runs one transcription at a time, so a stale one only delays the next.
    private func speculate(_ utterance: Utterance) {
        dropSpeculation()
        guard configuration.vad.transcribeAtPause, machine.state == .listening else { return }
        let transcription = models.transcription
        speculation = (utterance, Task { try await transcription.transcribe(utterance.samples) })
    }

    private func dropSpeculation() {
        speculation?.transcript.cancel()
        speculation = nil
    }

    private func startAnnouncement(_ texts: [String]) {
        turnNumber += 1
        let number = turnNumber
        let sentences = AsyncThrowingStream<ReplySentence, any Error> { continuation in
            for text in texts { continuation.yield(ReplySentence(text: text, source: .intent)) }
            continuation.finish()
        }
        turn = Task {
            do {
                var timings = TurnTimings()
                try await self.speak(sentences, turn: number, since: .now, timings: &timings)
            } catch {
                self.failed(number, error)
            }
        }
    }

    private nonisolated func runTurn(
        _ number: Int, _ utterance: Utterance, endOfSpeech: ContinuousClock.Instant, early: Task<String, any Error>?
    ) async {
        var timings = TurnTimings()
        do {
            let text: String
            if let early {
                text = try await early.value
            } else {
                text = try await models.transcription.transcribe(utterance.samples)
            }
            timings.transcript = .now - endOfSpeech
            guard let request = await transcribed(number, text) else { return }
            let reply: AssistantReply
            if request.isEmpty {
                reply = .speak(intent: nil, Self.sentences([assistant.message("wakeAcknowledgement")]))
            } else {
                reply = await assistant.respond(to: request, at: await now)
                await refreshTimers()
            }
            timings.intent = .now - endOfSpeech
            switch reply {
            case .stopSpeaking:
                await emit(.intent(.stop))
                await finished(number, timings)
            case .speak(let intent, let sentences):
                if let intent { await emit(.intent(intent)) }
                try await speak(sentences, turn: number, since: endOfSpeech, timings: &timings)
            }
        } catch is CancellationError {
        } catch {
            await failed(number, error)
        }
    }

    /// Speaks a reply sentence by sentence, chunk by chunk, then reports the turn finished.
    private nonisolated func speak(
        _ sentences: AsyncThrowingStream<ReplySentence, any Error>, turn number: Int,
        since start: ContinuousClock.Instant, timings: inout TurnTimings
    ) async throws {
        var spoken: [String] = []
        defer {
            let said = spoken.joined(separator: " ")
            Task { await assistant.said(said) }
        }
        var started = false
        let piece = speaker.periodFrames
        for try await sentence in sentences {
            try Task.checkCancellation()
            await emit(.sentence(sentence.text, source: sentence.source))
            if let token = sentence.firstToken { timings.firstToken = token - start }
            do {
                for try await chunk in models.synthesizer.speak(sentence.text, options: models.speechOptions) {
                    try Task.checkCancellation()
                    if !started {
                        started = true
                        timings.firstAudio = .now - start
                        guard await audioStarting(number) else { throw CancellationError() }
                    }
                    let samples = try await speaker.convert(chunk.samples)
                    // Virtual time paces by device periods; a live device paces itself, so write whole chunks.
                    let step = configuration.virtualTime ? piece : max(samples.count, 1)
                    for offset in stride(from: 0, to: samples.count, by: step) {
                        try Task.checkCancellation()
                        let part = Array(samples[offset..<min(offset + step, samples.count)])
                        await playbackGate(turn: number, frames: part.count)
                        try await speaker.play(deviceSamples: part)
                    }
                }
                spoken.append(sentence.text)
            } catch let error as PiperError where error.code == .invalidInput {
                logger.warning("nothing to say in '\(sentence.text)': \(error)")
            }
        }
        try Task.checkCancellation()
        try await speaker.finish()
        await finished(number, timings)
    }

    private static func sentences(_ texts: [String]) -> AsyncThrowingStream<ReplySentence, any Error> {
        AsyncThrowingStream { continuation in
            for text in texts { continuation.yield(ReplySentence(text: text, source: .intent)) }
            continuation.finish()
        }
    }

    // MARK: - Reports from the turn

    /// The transcript arrived: returns the request ("" for the wake phrase alone), or nil when there is none.
    private func transcribed(_ number: Int, _ text: String) -> String? {
        guard number == turnNumber else { return nil }
        emit(.transcript(text))
        logger.info("heard: \(text)")
        var request: String? = IntentMatcher.normalize(text).isEmpty ? nil : text
        if let wake, let heard = request {
            if awaitingRequest {
                awaitingRequest = false
            } else if let rest = wake.request(in: heard) {
                request = rest
                awaitingRequest = rest.isEmpty
            } else {
                request = nil
            }
        }
        guard let request else {
            emit(.ignored(text))
            _ = machine.handle(.nothingHeard)
            endTurn()
            return nil
        }
        _ = machine.handle(.requestHeard)
        emit(.state(machine.state))
        return request
    }

    /// The first audio of the turn is about to play; false when the turn was abandoned.
    private func audioStarting(_ number: Int) -> Bool {
        guard number == turnNumber else { return false }
        let before = machine.state
        _ = machine.handle(.audioStarted)
        if machine.state != before { emit(.state(machine.state)) }
        playbackTime = captureTime
        wakeWaiters()
        return true
    }

    private func finished(_ number: Int, _ timings: TurnTimings) {
        guard number == turnNumber else { return }
        emit(.timings(timings))
        func ms(_ duration: Duration?) -> String {
            guard let duration else { return "-" }
            let (seconds, attoseconds) = duration.components
            return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
        }
        logger.info(
            "turn timings from the end of speech: transcript \(ms(timings.transcript)), intent \(ms(timings.intent)), first token \(ms(timings.firstToken)), first audio \(ms(timings.firstAudio))"
        )
        _ = machine.handle(.replyFinished)
        endTurn()
    }

    private func failed(_ number: Int, _ error: any Error) {
        guard number == turnNumber else { return }
        logger.error("turn failed: \(error)")
        emit(.error("\(error)"))
        _ = machine.handle(.failed)
        endTurn()
    }

    private func endTurn() {
        turn = nil
        emit(.state(machine.state))
        wakeWaiters()
    }

    private func refreshTimers() async {
        nextTimer = await assistant.nextTimerDeadline
    }

    private func emit(_ event: PipelineEvent) {
        if case .state(let state) = event { logger.info("state: \(state.rawValue)") }
        eventSink.yield(event)
    }
}
