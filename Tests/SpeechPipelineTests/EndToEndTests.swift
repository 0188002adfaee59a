// End to end through real ALSA: capture reads a raw file (ALSA's `file` plugin), playback writes one. These devices
// are not paced, so the pipeline runs in virtual time (capture and playback paced against each other by sample
// counts) and stops after the input's known length; every input ends with silence. Needs the default models
// (scripts/fetch-models); run in release: Whisper and Piper are slow in debug builds.

import AudioIO
import Foundation
import HarkTestSupport
import SpeechPipeline
import Testing

/// The default models, loaded once for all end-to-end tests.
let sharedModels = Result { () throws -> PipelineModels in
    try PipelineModels.load(PipelineConfiguration())
}

/// What one run of the pipeline gave.
struct PipelineRun {
    var events: [PipelineEvent]
    /// The playback file's samples, at the voice's rate.
    var played: [Float]
    var playedRate: Int

    /// The state changes, consecutive repeats folded.
    var states: [PipelineState] {
        var out: [PipelineState] = []
        for case .state(let s) in events where out.last != s { out.append(s) }
        return out
    }

    var sentences: [(String, ReplySentence.Source)] {
        events.compactMap { if case .sentence(let t, let s) = $0 { (t, s) } else { nil } }
    }

    var transcripts: [String] { events.compactMap { if case .transcript(let t) = $0 { t } else { nil } } }

    /// Seconds of played audio louder than −40 dBFS (in 20 ms blocks).
    var audibleSeconds: Double {
        let block = playedRate / 50
        var loud = 0
        for start in stride(from: 0, to: played.count - block, by: block) {
            var sum: Float = 0
            for i in start..<(start + block) { sum += played[i] * played[i] }
            if (sum / Float(block)).squareRoot() > 0.01 { loud += 1 }
        }
        return Double(loud) / 50
    }
}

@Suite("End to end through ALSA file devices", .serialized)
struct EndToEndTests {
    /// 2026-03-04 15:42:10 UTC: the clock the time intent reads.
    static let fixedDate = Date(timeIntervalSince1970: 1_772_638_930)
    let models: PipelineModels

    init() throws {
        models = try sharedModels.get()
    }

    // MARK: - Inputs

    static func silence(_ seconds: Double) -> [Float] { [Float](repeating: 0, count: Int(seconds * 16_000)) }

    /// `text` spoken by the default voice, at 16 kHz.
    func spoken(_ text: String) async throws -> [Float] {
        let audio = try await models.synthesizer.synthesize(text, options: models.speechOptions)
        return try PCMBuffer(samples: audio.samples, sampleRate: audio.sampleRate).resampled(to: 16_000).samples
    }

    /// A recording from shared/testdata/speech, mono 16 kHz (at most `seconds` long).
    static func recording(_ name: String, seconds: Double? = nil) throws -> [Float] {
        let buffer = try SoundFile.read(path: Paths.speech.appending(path: name).path).mixedToMono()
        var samples = try buffer.resampled(to: 16_000).samples
        if let seconds { samples = Array(samples.prefix(Int(seconds * 16_000))) }
        return samples
    }

    static func rawBytes(_ samples: [Float]) -> Data {
        var data = Data(count: samples.count * 2)
        data.withUnsafeMutableBytes { raw in
            for (i, s) in samples.enumerated() {
                let v = Int16(max(-32768, min(32767, (s * 32768).rounded())))
                raw.storeBytes(of: v.littleEndian, toByteOffset: 2 * i, as: Int16.self)
            }
        }
        return data
    }

    static func samples(ofRaw path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 2)).map {
                Float(Int16(littleEndian: raw.load(fromByteOffset: 2 * $0, as: Int16.self))) / 32768
            }
        }
    }

    // MARK: - Running

    /// Runs the pipeline in-process on `input` through ALSA file devices.
    func run(
        _ input: [Float], configure: (inout PipelineConfiguration) -> Void = { _ in }, chat: (any ChatBackend)? = nil
    ) async throws -> PipelineRun {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let inPath = folder.file("capture.raw")
        let outPath = folder.file("playback.raw")
        try Self.rawBytes(input).write(to: URL(fileURLWithPath: inPath))
        let alsa = ALSAConfiguration.fileCapture(named: "hark_in", from: inPath)
            .appending(.filePlayback(named: "hark_out", to: outPath))
        var config = PipelineConfiguration()
        config.llm.enabled = false
        config.virtualTime = true
        configure(&config)
        let capture = try ALSACapture(device: "hark_in", sampleRate: 16_000, configuration: alsa)
        let speaker = try Speaker(device: "hark_out", sourceRate: models.synthesizer.sampleRate, configuration: alsa)
        let pipeline = SpeechPipeline(
            configuration: config, models: models, capture: capture, speaker: speaker, chat: chat,
            now: { Self.fixedDate })
        let collector = Task {
            var events: [PipelineEvent] = []
            for await event in pipeline.events { events.append(event) }
            return events
        }
        try await pipeline.run(inputSamples: input.count)
        let events = await collector.value
        await speaker.close()
        await capture.close()
        return PipelineRun(
            events: events, played: try Self.samples(ofRaw: outPath), playedRate: models.synthesizer.sampleRate)
    }

    /// Whisper's transcript of what was played.
    func transcribePlayback(_ run: PipelineRun) async throws -> String {
        let audio = try PCMBuffer(samples: run.played, sampleRate: run.playedRate).resampled(to: 16_000)
        return try await models.transcription.transcribe(audio.samples)
    }

    static let turn: [PipelineState] = [.listening, .transcribing, .thinking, .speaking, .listening]

    // MARK: - Tests

    @Test("A spoken time question is answered with the time, spoken through ALSA playback")
    func timeQuestion() async throws {
        let input = Self.silence(1) + (try await spoken("What time is it?")) + Self.silence(3)
        let run = try await run(input)
        #expect(run.states == Self.turn, "\(run.events)")
        #expect(run.transcripts.first?.lowercased().contains("time") == true, "\(run.transcripts)")
        #expect(run.events.contains(.intent(.time)))
        #expect(run.events.last == .inputEnded(samples: input.count))
        #expect(run.audibleSeconds > 0.5)
        // What was played says the (injected) time: 3:42 PM in UTC, in the local time zone otherwise.
        let parts = Calendar.current.dateComponents([.hour, .minute], from: Self.fixedDate)
        let hour = (parts.hour! + 11) % 12 + 1
        let heard = try await transcribePlayback(run)
        let digits = heard.filter(\.isNumber)
        // Whisper writes "three forty-two" as 3:42 or as "3:40 2": accept both.
        let minute = parts.minute!
        let spellings = ["\(hour)\(String(format: "%02d", minute))", "\(hour)\(minute / 10 * 10)\(minute % 10)"]
        #expect(spellings.contains { digits.contains($0) }, "played: \(heard)")
    }

    @Test("A timer request is confirmed, and the timer fires and speaks while the daemon is idle")
    func timer() async throws {
        let input = Self.silence(1) + (try await spoken("Set a timer for three seconds.")) + Self.silence(7)
        let run = try await run(input)
        #expect(run.events.contains(.intent(.setTimer)), "\(run.transcripts)")
        #expect(run.events.contains(.timerFired("Your 3 seconds timer is done.")), "\(run.events)")
        #expect(run.states == Self.turn + [.speaking, .listening], "\(run.events)")
        #expect(run.sentences.map(\.0) == ["Timer set for 3 seconds.", "Your 3 seconds timer is done."])
    }

    @Test("Speech while Hark speaks cuts playback within 200 ms, and the new utterance is heard")
    func bargeIn() async throws {
        let question = try await spoken("What can you do?")
        let interruption = try Self.recording("ljspeech_LJ001-0008.wav")  // "has never been surpassed."
        let input = Self.silence(1) + question + Self.silence(1.5) + interruption + Self.silence(3)
        let run = try await run(input)
        let latencies = run.events.compactMap { if case .bargeIn(let l) = $0 { l } else { nil } }
        #expect(latencies.count == 1, "\(run.events)")
        #expect(latencies.allSatisfy { $0 <= 3_200 }, "barge-in latency \(latencies) samples")
        #expect(run.transcripts.count == 2)
        #expect(run.transcripts.last?.lowercased().contains("surpassed") == true, "\(run.transcripts)")
        #expect(run.states == Self.turn + Array(Self.turn.dropFirst()), "\(run.events)")
        // The help answer (about 6 s) was cut short: what played is the cut answer plus the short second reply.
        let help = try await models.synthesizer.synthesize(
            models.intents.message("help"), options: models.speechOptions)
        let full = Double(help.samples.count) / Double(help.sampleRate)
        #expect(Double(run.played.count) / Double(run.playedRate) < full)

        // With barge-in off, the answer plays in full and speech during it is not taken as a request.
        let calm = try await self.run(input) { $0.bargeIn = false }
        #expect(!calm.events.contains { if case .bargeIn = $0 { true } else { false } })
        #expect(calm.transcripts.count == 1)
        #expect(calm.states == Self.turn)
        #expect(Double(calm.played.count) / Double(calm.playedRate) >= full - 0.1)
    }

    @Test("Other questions go to the language model; its reply is spoken sentence by sentence")
    func languageModel() async throws {
        let server = try await FakeChatServer.start()
        defer { server.stop() }
        let input = Self.silence(1) + (try Self.recording("cmu_pocketsphinx_goforward.wav")) + Self.silence(3)
        let chat = OpenAIChatClient(url: server.url, model: "hark-test", timeout: .seconds(20))
        let run = try await run(input, chat: chat)
        #expect(run.states == Self.turn, "\(run.events)")
        #expect(
            run.sentences.map(\.0) == [
                "Going forward ten meters sounds like a fine plan.", "Mind the furniture on the way!",
                "Tell me when you get there.",
            ])
        #expect(run.sentences.allSatisfy { $0.1 == .chat })
        let request = try server.lastRequest()
        let messages = request["messages"] as? [[String: String]] ?? []
        #expect(messages.first?["role"] == "system")
        #expect(messages.last?["content"]?.lowercased().contains("forward") == true, "\(messages)")
        let timings = run.events.compactMap { if case .timings(let t) = $0 { t } else { nil } }
        #expect(timings.first?.firstToken != nil && timings.first?.firstAudio != nil)
        #expect(run.audibleSeconds > 2)
    }

    @Test("By default other questions go to the in-process model, whose reply is spoken")
    func inProcessModel() async throws {
        let input = Self.silence(1) + (try Self.recording("cmu_pocketsphinx_goforward.wav")) + Self.silence(3)
        let run = try await run(input) {
            $0.llm.enabled = true
            $0.llm.maxTokens = 24
        }
        #expect(models.languageModel?.name == "smollm2-135m-instruct-q4_1")
        #expect(run.states == Self.turn, "\(run.events)")
        #expect(!run.sentences.isEmpty && run.sentences.allSatisfy { $0.1 == .chat }, "\(run.events)")
        let timings = run.events.compactMap { if case .timings(let t) = $0 { t } else { nil } }
        #expect(timings.first?.firstToken != nil && timings.first?.firstAudio != nil)
        #expect(run.audibleSeconds > 0.5)
    }

    @Test("An unreachable language model gives a short spoken apology, not a hang")
    func unreachableModel() async throws {
        let input = Self.silence(1) + (try Self.recording("cmu_pocketsphinx_goforward.wav")) + Self.silence(3)
        let chat = OpenAIChatClient(url: "http://127.0.0.1:9", model: "x", timeout: .seconds(5))
        let run = try await run(input, chat: chat)
        #expect(run.states == Self.turn, "\(run.events)")
        #expect(run.sentences.map(\.1) == [.apology])
        #expect(run.audibleSeconds > 1)
    }

    @Test("A wake phrase gates requests")
    func wakePhrase() async throws {
        let plain = try await spoken("What time is it?")
        let woken = try await spoken("Hey Hark, what time is it?")
        let input = Self.silence(1) + plain + Self.silence(2) + woken + Self.silence(3)
        let run = try await run(input) { $0.wakePhrase = "hey hark" }
        #expect(run.transcripts.count == 2)
        #expect(run.events.contains { if case .ignored = $0 { true } else { false } })
        #expect(run.events.filter { $0 == .intent(.time) }.count == 1, "\(run.events)")
    }

    @Test("Noise alone gets no answer")
    func noise() async throws {
        let input = try Self.recording("nonspeech_speechbrain_noise1.wav", seconds: 12) + Self.silence(2)
        let run = try await run(input)
        #expect(run.sentences.isEmpty, "\(run.events)")
        #expect(run.audibleSeconds == 0)
    }

    // MARK: - The harkd executable

    /// Runs harkd off the cooperative pool; returns (status, standard output, standard error).
    static func harkd(_ arguments: [String]) async throws -> (Int32, String, String) {
        let result = try await ChildProcess.runOffPool(
            Paths.products.appending(path: "harkd"), arguments, limit: .seconds(300))
        return (result.status, result.output, result.error)
    }

    @Test("harkd answers a time question through ALSA file devices and reports its events")
    func daemon() async throws {
        let folder = try TemporaryFolder("harkd")
        defer { folder.remove() }
        let input = Self.silence(1) + (try await spoken("What time is it?")) + Self.silence(3)
        try Self.rawBytes(input).write(to: URL(fileURLWithPath: folder.file("capture.raw")))
        let alsa = ALSAConfiguration.fileCapture(named: "hark_in", from: folder.file("capture.raw"))
            .appending(.filePlayback(named: "hark_out", to: folder.file("playback.raw")))
        try alsa.text.write(toFile: folder.file("asoundrc"), atomically: true, encoding: .utf8)
        try #"{"captureDevice": "hark_in", "playbackDevice": "hark_out", "llm": {"enabled": false}}"#
            .write(toFile: folder.file("harkd.json"), atomically: true, encoding: .utf8)
        let seconds = Double(input.count) / 16_000
        let (status, output, log) = try await Self.harkd([
            "--config", folder.file("harkd.json"), "--alsa-config", folder.file("asoundrc"), "--events",
            "--virtual-time", "--exit-after", "\(seconds)", "--wyoming", "off", "--http", "off",
        ])
        #expect(status == 0, "\(log)")
        let events = output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        var states: [String] = []
        for event in events where event["event"] as? String == "state" {
            let state = event["state"] as? String ?? ""
            if states.last != state { states.append(state) }
        }
        #expect(states == Self.turn.map(\.rawValue), "\(output)")
        let sentence = events.first { $0["event"] as? String == "sentence" }?["text"] as? String
        #expect(sentence?.hasPrefix("It is ") == true, "\(output)")
        #expect(log.contains("turn timings"))
        let played = try Self.samples(ofRaw: folder.file("playback.raw"))
        #expect(PipelineRun(events: [], played: played, playedRate: models.synthesizer.sampleRate).audibleSeconds > 0.5)
    }

    @Test("harkd --check names what is wrong: a missing capture device, a malformed config")
    func check() async throws {
        let folder = try TemporaryFolder("harkd-check")
        defer { folder.remove() }
        let (status, output, _) = try await Self.harkd(["--check", "--capture", "no_such_device", "--llm-url", ""])
        #expect(status != 0)
        #expect(output.contains("error: capture device 'no_such_device'"), "\(output)")
        #expect(output.contains("ok: Whisper"), "\(output)")
        #expect(output.contains("ok: LLM smollm2-135m-instruct-q4_1"), "\(output)")
        let (_, off, _) = try await Self.harkd(["--check", "--capture", "no_such_device", "--llm", "off"])
        #expect(off.contains("ok: LLM off"), "\(off)")

        try #"{"vad": {"threshold": "high"}}"#.write(toFile: folder.file("bad.json"), atomically: true, encoding: .utf8)
        let (badStatus, _, log) = try await Self.harkd(["--check", "--config", folder.file("bad.json")])
        #expect(badStatus != 0)
        #expect(log.contains("bad.json") && log.contains("vad.threshold"), "\(log)")
    }
}
