// harkd: the Hark voice-assistant daemon. Reads its config file, applies the command-line overrides, opens the
// ALSA devices, loads the models and runs the pipeline, with the network servers beside it (Servers.swift), until
// SIGINT/SIGTERM (or the end of a test input).

import ArgumentParser
import AudioIO
import Compute
import Foundation
import Logging
import SpeechPipeline
import SpeechServers

@main
struct Harkd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harkd", abstract: "The Hark voice-assistant daemon.",
        discussion: """
            Listens on an ALSA capture device, transcribes what is said with Whisper, answers built-in intents \
            (time, date, timers, repeat, stop, help) or asks a language model (Hark's own, in-process, or an \
            OpenAI-compatible server), and speaks the answer with a Piper voice on an ALSA playback device. Beside \
            it, on the same loaded models, a Wyoming server (Home Assistant) and an OpenAI-compatible HTTP API (speech, \
            transcriptions, chat completions); --no-audio runs only those. Settings come from --config FILE (JSON; \
            every key optional), then the options below. --check validates the config, the models, the devices and \
            the server addresses and exits.
            """)

    @Option(help: "JSON config file (keys as in README's harkd section).")
    var config: String?

    @Option(help: "ALSA capture device (default: the config's, else 'default').")
    var capture: String?

    @Option(help: "ALSA playback device (default: the config's, else 'default').")
    var playback: String?

    @Option(help: "Extra ALSA configuration (asoundrc syntax) for the two devices, e.g. file-backed test devices.")
    var alsaConfig: String?

    @Option(help: "Piper voice: a catalog name or a .onnx file.")
    var voice: String?

    @Option(help: "Whisper model: a catalog name or a CTranslate2 folder.")
    var sttModel: String?

    @OptionGroup var languageModel: LanguageModelOptions

    @Option(help: "Only answer requests that start with this phrase, e.g. 'hey hark'.")
    var wakePhrase: String?

    @Flag(help: "Do not stop speaking when the user speaks (for speakers that bleed into the microphone).")
    var noBargeIn = false

    @Option(help: "Intents file (default: the built-in one).")
    var intents: String?

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Validate the config, the models, the devices and the server addresses, print what is wrong, and exit.")
    var check = false

    @Flag(help: "Print the pipeline's events on standard output, one JSON object a line.")
    var events = false

    @Option(help: "Stop after this many seconds of captured audio (for file-backed capture, which never ends).")
    var exitAfter: Double?

    @Flag(help: "Pace capture and playback against each other by sample counts (for ALSA file devices).")
    var virtualTime = false

    @Flag(help: "Run only the network servers: no capture or playback device, no voice loop.")
    var noAudio = false

    @Option(help: "Wyoming server address, tcp://HOST:PORT, or 'off' (default: tcp://127.0.0.1:10500).")
    var wyoming: String?

    @Option(help: "OpenAI-compatible HTTP API address, HOST:PORT, or 'off' (default: 127.0.0.1:8080).")
    var http: String?

    @Option(help: "Bearer token the HTTP API requires (default: none; set one when it listens beyond loopback).")
    var apiKey: String?

    @Option(
        help: ArgumentHelp(
            "Make the capture device report an overrun after this many seconds of audio (a fault drill: ALSA's file "
                + "devices never overrun by themselves); repeatable.", visibility: .hidden))
    var injectOverrunAt: [Double] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'")
        }
        if let exitAfter, !(exitAfter > 0) { throw ValidationError("--exit-after must be more than 0 seconds") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        exitWithoutLibraryDestructors()  // see Compute/CPU/ProcessExit.swift
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let configuration: PipelineConfiguration
        do {
            configuration = try settings()
        } catch {
            fail("\(error)")
            throw ExitCode(2)
        }
        if check { throw await runChecks(configuration) ? ExitCode.success : ExitCode.failure }
        do {
            try await serve(configuration)
        } catch {
            fail("\(error)")
            throw ExitCode.failure
        }
    }

    /// The config file with the command-line overrides, validated.
    private func settings() throws -> PipelineConfiguration {
        var settings = PipelineConfiguration()
        if let config { settings = try PipelineConfiguration.load(from: config) }
        if let capture { settings.captureDevice = capture }
        if let playback { settings.playbackDevice = playback }
        if let alsaConfig { settings.alsaConfigFile = alsaConfig }
        if let voice { settings.voice = voice }
        if let sttModel { settings.sttModel = sttModel }
        languageModel.apply(to: &settings)
        if let wakePhrase { settings.wakePhrase = wakePhrase.isEmpty ? nil : wakePhrase }
        if noBargeIn { settings.bargeIn = false }
        if let intents { settings.intentsFile = intents }
        if let threads { settings.threads = threads }
        if virtualTime { settings.virtualTime = true }
        if noAudio { settings.servers.noAudio = true }
        if let wyoming { settings.servers.wyoming = wyoming }
        if let http { settings.servers.http = http }
        if let apiKey { settings.servers.apiKey = apiKey }
        try settings.validate()
        _ = try Self.serverConfiguration(settings)
        return settings
    }

    private func alsaConfiguration(_ settings: PipelineConfiguration) throws -> ALSAConfiguration? {
        guard let path = settings.alsaConfigFile else { return nil }
        do {
            return ALSAConfiguration(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw PipelineError(.invalidConfiguration, "cannot read the ALSA config file \(path)", subject: path)
        }
    }

    // MARK: - Serving

    private func serve(_ settings: PipelineConfiguration) async throws {
        let logger = Logger(label: "hark.daemon")
        let signals = ShutdownSignals()
        let models = try PipelineModels.load(settings)
        for line in models.summary { logger.info("loaded \(line)") }
        let servers = try Self.serverConfiguration(settings).map {
            ($0, try Self.speechServices(models, configuration: $0, logger: logger))
        }
        // POST /v1/chat/completions on the in-process model's weights (a session of its own), when one is loaded.
        let chat = try servers.flatMap {
            try LanguageModelChoice.chatService(
                models, queueDepth: $0.0.queueDepth, retryAfter: $0.0.retryAfterSeconds)
        }
        guard !settings.servers.noAudio else {
            try await Self.runFaces(pipeline: nil, servers: servers, chat: chat, signals: signals, logger: logger)
            logger.info("stopped")
            return
        }
        let alsa = try alsaConfiguration(settings)
        let overruns = injectOverrunAt.map { Int($0 * Double(SpeechPipeline.sampleRate)) }
        let capture = try ALSACapture(
            device: settings.captureDevice, sampleRate: SpeechPipeline.sampleRate, periodDuration: .milliseconds(20),
            configuration: alsa, faults: InjectedFaults(overrunsAtFrames: overruns))
        let speaker = try Speaker(
            device: settings.playbackDevice, sourceRate: models.synthesizer.sampleRate, configuration: alsa)
        logger.info(
            "listening on '\(settings.captureDevice)' (\(capture.sampleRate) Hz), speaking on '\(settings.playbackDevice)' (\(speaker.deviceRate) Hz)"
        )
        let pipeline = SpeechPipeline(configuration: settings, models: models, capture: capture, speaker: speaker)
        let printer: Task<Void, Never>? =
            events
            ? Task {
                for await event in pipeline.events {
                    FileHandle.standardOutput.write(Data((event.json + "\n").utf8))
                }
            } : nil
        let inputSamples = exitAfter.map { Int($0 * Double(SpeechPipeline.sampleRate)) }
        // Until the input ends, a face fails, or SIGINT/SIGTERM; then the devices are closed below.
        var failure: (any Error)?
        do {
            try await Self.runFaces(
                pipeline: (pipeline, inputSamples), servers: servers, chat: chat, signals: signals, logger: logger)
        } catch {
            failure = error
        }
        await printer?.value
        await speaker.close()
        await capture.close()
        if let failure { throw failure }
        logger.info("stopped")
    }

    // MARK: - Checks

    /// Validates everything the daemon needs; prints one line per check; returns whether all passed.
    private func runChecks(_ settings: PipelineConfiguration) async -> Bool {
        var ok = true
        func report(_ passed: Bool, _ message: String) {
            print("\(passed ? "ok" : "error"):", message)
            if !passed { ok = false }
        }
        report(true, "config \(config ?? "(defaults)")")
        var alsa: ALSAConfiguration?
        do {
            alsa = try alsaConfiguration(settings)
        } catch {
            report(false, "\(error)")
        }
        var voiceRate = 22_050
        do {
            let models = try PipelineModels.load(settings)
            voiceRate = models.synthesizer.sampleRate
            report(true, "intents \(settings.intentsFile ?? "(built in)")")
            for line in models.summary { report(true, line) }
        } catch {
            report(false, "\(error)")
        }
        for (passed, line) in Self.checkServers(try? Self.serverConfiguration(settings)) { report(passed, line) }
        if settings.servers.noAudio {
            report(true, "no audio devices (--no-audio)")
        } else {
            do {
                let device = try ALSACapture(
                    device: settings.captureDevice, sampleRate: SpeechPipeline.sampleRate, configuration: alsa)
                report(true, "capture device '\(settings.captureDevice)' (\(device.sampleRate) Hz)")
                await device.close()
            } catch {
                report(false, "capture device '\(settings.captureDevice)': \(error)")
            }
            do {
                let device = try ALSAPlayback(
                    device: settings.playbackDevice, sampleRate: voiceRate, configuration: alsa)
                report(true, "playback device '\(settings.playbackDevice)' (\(device.sampleRate) Hz)")
                await device.close()
            } catch {
                report(false, "playback device '\(settings.playbackDevice)': \(error)")
            }
        }
        if let line = await LanguageModelChoice.check(settings.llm) { print(line) }
        return ok
    }

    private func fail(_ message: String) {
        FileHandle.standardError.write(Data("harkd: \(message)\n".utf8))
    }
}
