import ArgumentParser
import AudioIO
import Compute
import Foundation
import LanguageModel
import ModelStore
import VoiceActivity
import WhisperSTT

/// Speech to text with Whisper on Hark's own engine, with whisper.cpp's command-line habits.
@main
struct Transcribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe", abstract: "Transcribe speech in sound files with Whisper.",
        discussion: """
            Reads any file libsndfile reads (WAV, FLAC, OGG…), any rate and channel count, or a WAV on stdin (-). \
            Prints the text; -otxt/-osrt/-ovtt/-oj also write files next to the input (or at -of BASE).
            """)

    @Argument(help: "Sound files to transcribe ('-' reads one from standard input).")
    var files: [String]

    @Option(
        name: .shortAndLong,
        help: "Whisper model: a catalog name or a CTranslate2 folder (default: the catalog's default).")
    var model: String?

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(name: [.short, .long], help: "Language code for multilingual models (English-only models ignore it).")
    var language: String?

    @Option(
        help: """
            Initial prompt: text the model takes as what came before the audio (spellings, names, style), as \
            faster-whisper's initial_prompt.
            """)
    var prompt: String?

    @Option(help: "Beam size (1: greedy).")
    var beamSize = 1

    @Option(
        help: """
            Compute backend: cpu, or rknpu (RK3588 NPU through librknnrt.so, or the library HARK_RKNN_LIB \
            names; an error if it cannot start). Ops the backend declines run on the CPU.
            """)
    var backend = "cpu"

    @Option(
        help: """
            How the decoder's weights are stored, as faster-whisper's compute_type: int8 (q8_0 blocks, about twice as \
            fast per token, slightly less accurate), float32 (CTranslate2 float32's numbers), or auto (float32).
            """)
    var computeType: WhisperComputeType = .auto

    @Flag(help: "Decode without timestamp tokens (one segment per 30 s window).")
    var noTimestamps = false

    @Flag(help: "Transcribe the whole audio, without the voice-activity gate.")
    var noVad = false

    @Flag(
        help: """
            Print load time, time per stage (VAD, log-mel, encoder, decoder per token) and per op kind (where it \
            ran, count, time, bytes copied to and from the device) to stderr.
            """)
    var profile = false

    @Flag(name: .customLong("otxt", withSingleDash: true), help: "Write BASE.txt.")
    var outputText = false
    @Flag(name: .customLong("osrt", withSingleDash: true), help: "Write BASE.srt.")
    var outputSRT = false
    @Flag(name: .customLong("ovtt", withSingleDash: true), help: "Write BASE.vtt.")
    var outputVTT = false
    @Flag(name: .customLong("oj", withSingleDash: true), help: "Write BASE.json (whisper.cpp's layout).")
    var outputJSON = false
    @Option(name: .customLong("of", withSingleDash: true), help: "Output base name (default: the input path).")
    var outputBase: String?

    func validate() throws {
        guard (1...16).contains(beamSize) else { throw ValidationError("--beam-size must be between 1 and 16") }
        guard ComputeEngine.backendNames.contains(backend) else {
            throw ValidationError(
                "unknown backend '\(backend)' (available: \(ComputeEngine.backendNames.joined(separator: ", ")))")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if outputBase != nil && files.count > 1 { throw ValidationError("-of names one output; give one input file") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input can be read once") }
    }

    func run() throws {
        exitWithoutLibraryDestructors()  // see Compute/CPU/ProcessExit.swift
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let store = try ModelStore()
        let stt = try store.resolve(model, kind: .stt)
        let ops = profile ? ComputeProfile() : nil
        let engine = try ComputeEngine(backendNamed: backend, threads: threads, profile: ops)
        var detector: SileroVAD? = nil
        if !noVad {
            if let vad = try? store.defaultModel(.vad) {
                detector = try SileroVAD(path: vad.location.path, engine: engine)
            } else {
                warn("the Silero VAD model is not installed (scripts/fetch-models); using the energy gate")
            }
        }
        let transcriber = try WhisperTranscriber(
            directory: stt.location, engine: engine, detector: detector, computeType: computeType)
        var options = TranscriptionOptions()
        options.withoutTimestamps = noTimestamps
        options.beamSize = beamSize
        options.language = language
        if noVad { options.voiceActivity = nil }
        if let prompt, prompt.contains(where: { !$0.isWhitespace }) {
            let tokenizer = try Tokenizer(huggingFaceFile: stt.location.appending(path: "tokenizer.json"))
            options.initialPrompt = tokenizer.encode(
                TranscriptionOptions.initialPromptText(prompt), addSpecial: false, parseSpecial: true)
        }
        let timings = TranscriptionProfile()
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9

        var failed = false
        for file in files {
            do {
                try transcribe(file, with: transcriber, options: options, profile: timings, modelName: stt.name)
            } catch {
                warn("\(file): \(error)")
                failed = true
            }
        }
        if profile {
            warn(String(format: "profile: model load %.3f s", loadSeconds))
            for (stage, seconds, count) in timings.summary {
                let per =
                    count > 0
                    ? String(
                        format: ", %.2f ms per %@", seconds * 1e3 / Double(count), stage == .decoder ? "token" : "call")
                    : ""
                warn(String(format: "profile: %@ %.3f s (%d)", stage.rawValue, seconds, count) + per)
            }
            for line in ops?.report ?? [] { warn("profile: op \(line)") }
        }
        if failed { throw ExitCode.failure }
    }

    private func transcribe(
        _ file: String, with transcriber: WhisperTranscriber, options: TranscriptionOptions,
        profile: TranscriptionProfile, modelName: String
    ) throws {
        let samples = try Self.load(file)
        let duration = Double(samples.count) / Double(LogMelSpectrogram.sampleRate)
        let showProgress = isatty(STDERR_FILENO) == 1 && duration > 60
        let segments = try transcriber.transcribe(samples, options: options, profile: profile) { segment in
            if showProgress { progressBar(segment.end / duration) }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(TranscriptFormat.txt.render(segments), terminator: "")

        let formats = [
            (outputText, TranscriptFormat.txt), (outputSRT, .srt), (outputVTT, .vtt), (outputJSON, .json),
        ].filter(\.0).map(\.1)
        let base = outputBase ?? (file == "-" ? "stdin" : file)
        for format in formats {
            let path = "\(base).\(format.fileExtension)"
            let text = format.render(segments, model: modelName, language: options.language ?? "en")
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw ValidationError("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }

    /// 16 kHz mono samples of `file`; the decoded and intermediate buffers are freed on return (a long
    /// file would otherwise be held three times over).
    private static func load(_ file: String) throws -> [Float] {
        let input = file == "-" ? try SoundFile.readStandardInput() : try SoundFile.read(path: file)
        guard input.frameCount > 0 else { throw ValidationError("no audio in it") }
        let mono = input.channelCount == 1 ? input : input.mixedToMono()
        if mono.sampleRate == LogMelSpectrogram.sampleRate { return mono.samples }
        return try mono.resampled(to: LogMelSpectrogram.sampleRate).samples
    }

    private func progressBar(_ fraction: Double) {
        let width = 40
        let done = Int((min(1, max(0, fraction)) * Double(width)).rounded())
        let bar = String(repeating: "#", count: done) + String(repeating: " ", count: width - done)
        FileHandle.standardError.write(Data("\r[\(bar)] \(Int(fraction * 100)) %".utf8))
    }

    private func warn(_ message: String) {
        FileHandle.standardError.write(Data("transcribe: \(message)\n".utf8))
    }
}

extension WhisperComputeType: ExpressibleByArgument {}
