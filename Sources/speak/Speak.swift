// speak: text to speech with Piper voices on Hark's own engine, with Piper's command-line habits
// (research/piper.md §5): -m/-c/-f/--output-raw/-s/--length-scale/--noise-scale/--noise-w/--sentence-silence/
// --json-input, both `-` and `_` spellings of the long options. Without an output option it plays through ALSA.

import ArgumentParser
import AudioIO
import Compute
import Foundation
import ModelStore
import Phonemizer
import PiperTTS

/// Text to speech with Piper voices.
@main
struct Speak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speak", abstract: "Text to speech with Piper voices.",
        discussion: """
            Speaks the text given as arguments, or else the text on standard input. With no output option the speech \
            plays through ALSA (--device). -f FILE writes a WAV file (- streams one to standard output); \
            --output-raw streams 16-bit little-endian mono samples at the voice's rate to standard output as they \
            are made, e.g. speak --output-raw "Hello." | aplay -r 22050 -f S16_LE -t raw -
            With --json-input each line of standard input is a JSON object: "text", and optionally "speaker_id" or \
            "speaker", and "output_file" (a WAV for that line; lines without one go to the output chosen above).
            """)

    @Argument(help: "Text to speak (default: standard input).")
    var text: [String] = []

    @Option(name: .shortAndLong, help: "Voice: a catalog name or a Piper .onnx file (default: the catalog's default).")
    var model: String?

    @Option(name: .shortAndLong, help: "The voice's .onnx.json (default: the model path + .json).")
    var config: String?

    @Option(
        name: [.customShort("f"), .customLong("output-file"), .customLong("output_file")],
        help: "Write a WAV file ('-': stream it to standard output).")
    var outputFile: String?

    @Flag(
        name: [.customLong("output-raw"), .customLong("output_raw")],
        help: "Stream raw 16-bit little-endian mono samples to standard output.")
    var outputRaw = false

    @Option(name: .shortAndLong, help: "Speaker of a multi-speaker voice: an id or a name.")
    var speaker: String?

    @Option(
        name: [.customLong("length-scale"), .customLong("length_scale")],
        help: "Phoneme length: above 1 speaks slower (default: the voice's).")
    var lengthScale: Float?

    @Option(
        name: [.customLong("noise-scale"), .customLong("noise_scale")],
        help: "Generator noise (default: the voice's).")
    var noiseScale: Float?

    @Option(
        name: [.customLong("noise-w"), .customLong("noise_w"), .customLong("noise-w-scale")],
        help: "Phoneme width noise (default: the voice's).")
    var noiseW: Float?

    @Option(
        name: [.customLong("sentence-silence"), .customLong("sentence_silence")],
        help: "Seconds of silence after each sentence.")
    var sentenceSilence = 0.2

    @Option(help: "Volume: a gain on the voice's own level (samples are clipped, not normalised).")
    var volume: Float = 1

    @Option(help: "Seed of the noise.")
    var seed: UInt64 = 0

    @Flag(
        name: [.customLong("json-input"), .customLong("json_input")],
        help: "Read one JSON object per line of standard input.")
    var jsonInput = false

    @Option(help: "ALSA playback device, when playing.")
    var device = "default"

    @Option(
        help: """
            Compute backend for the decoder: cpu, or rknpu (RK3588 NPU through librknnrt.so, or the library \
            HARK_RKNN_LIB names; an error if it cannot start). The encoder always runs on the CPU.
            """)
    var backend = "cpu"

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Flag(
        help: """
            Print load time, time per stage (phonemizer, encoder, flow, decoder) and per op kind (where it ran, \
            count, time, bytes copied to and from the device) to stderr.
            """)
    var profile = false

    /// The backends this build has.
    static let backends = ComputeEngine.backendNames

    func validate() throws {
        guard Self.backends.contains(backend) else {
            throw ValidationError(
                "unknown backend '\(backend)' (available: \(Self.backends.joined(separator: ", ")))")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if outputRaw && outputFile != nil { throw ValidationError("choose one of -f and --output-raw") }
        if jsonInput && !text.isEmpty { throw ValidationError("--json-input reads standard input: give no text") }
        guard sentenceSilence >= 0, sentenceSilence.isFinite else {
            throw ValidationError("--sentence-silence must be 0 or more seconds")
        }
        guard volume >= 0, volume.isFinite else { throw ValidationError("--volume must be 0 or more") }
        for (name, value) in [("--length-scale", lengthScale), ("--noise-scale", noiseScale), ("--noise-w", noiseW)] {
            if let value, !(value >= 0 && value.isFinite) { throw ValidationError("\(name) must be 0 or more") }
        }
        if let lengthScale, lengthScale == 0 { throw ValidationError("--length-scale must be more than 0") }
    }

    func run() async throws {
        exitWithoutLibraryDestructors()  // see Compute/CPU/ProcessExit.swift
        do {
            try await speak()
        } catch let error as ExitCode {
            throw error
        } catch let error as AudioIOError where error.code == .noSoundDevice {
            warn(error.description)
            warn("to write the speech to a file instead, use -f FILE.wav (or --output-raw for raw samples)")
            throw ExitCode.failure
        } catch {
            warn("\(error)")
            throw ExitCode.failure
        }
    }

    // MARK: - The job

    private func speak() async throws {
        let input: String? = jsonInput ? nil : try plainText()
        if let outputFile, outputFile != "-" { try Self.checkWritable(outputFile) }

        let clock = ContinuousClock()
        let loadStart = clock.now
        let ops = profile ? ComputeProfile() : nil
        let synthesizer = try loadSynthesizer(profile: ops)
        let output = makeOutput()
        var stats = Profile(load: clock.now - loadStart)
        let options = try options(for: synthesizer.voice, speaker: speaker)

        if let input {
            try await output.open(sampleRate: synthesizer.sampleRate)
            try await speak(input, with: synthesizer, options: options, to: output, stats: &stats)
            try await output.finish()
        } else {
            try await speakJSONLines(with: synthesizer, options: options, to: output, stats: &stats)
        }
        if profile {
            stats.report(warn)
            for line in ops?.report ?? [] { warn("profile: op \(line)") }
        }
    }

    /// The text of the arguments, else of standard input; refuses text with nothing in it.
    private func plainText() throws -> String {
        let text =
            self.text.isEmpty
            ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            : self.text.joined(separator: " ")
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw SpeakError("the text is empty: there is nothing to speak (give it as arguments or on standard input)")
        }
        return text
    }

    /// Resolves and loads the voice, then starts the synthesizer's stages.
    private func loadSynthesizer(profile: ComputeProfile?) throws -> SpeechSynthesizer {
        let modelPath: String
        if let model, config != nil, FileManager.default.fileExists(atPath: model), !model.hasSuffix("/") {
            modelPath = model  // a voice file with its config elsewhere
        } else {
            modelPath = try ModelStore().resolve(model, kind: .voice).location.path
        }
        let configPath = config ?? modelPath + ".json"
        let voice = try PiperVoice(
            modelPath: modelPath, configPath: configPath,
            engine: try ComputeEngine(backendNamed: backend, threads: threads, profile: profile))
        let phonemeConfig = try PiperPhonemeConfig.load(from: URL(fileURLWithPath: configPath))
        return try SpeechSynthesizer(voice: voice, phonemeConfig: phonemeConfig)
    }

    /// Where lines without an output file of their own go.
    private func makeOutput() -> any SpeechOutput {
        if outputRaw { return RawStreamOutput() }
        switch outputFile {
        case "-": return WAVStreamOutput()
        case let path?: return SoundFileOutput(path: path)
        case nil: return PlaybackOutput(device: device)
        }
    }

    /// The voice's scales overridden by the options given, for `speaker`.
    private func options(for voice: PiperVoice, speaker: String?) throws -> SpeechOptions {
        var parameters = voice.defaultParameters
        if let lengthScale { parameters.lengthScale = lengthScale }
        if let noiseScale { parameters.noiseScale = noiseScale }
        if let noiseW { parameters.noiseW = noiseW }
        parameters.seed = seed
        parameters.speakerID = try speaker.map { try Self.speakerID($0, of: voice) }
        // Every output gets the same chunks, hence the same samples: a file, a stream and the speaker agree.
        return SpeechOptions(parameters: parameters, sentenceSilence: sentenceSilence, volume: volume)
    }

    /// Speaks one text into `output`, keeping its times (`line`: its line of JSON input).
    private func speak(
        _ text: String, with synthesizer: SpeechSynthesizer, options: SpeechOptions, to output: any SpeechOutput,
        stats: inout Profile, line: Int? = nil
    ) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var utterance = Profile.Utterance(line: line)
        let sentences = try await synthesizer.sentences(for: text)
        utterance.phonemizer = clock.now - start
        for try await chunk in synthesizer.speak(sentences, options: options) {
            if utterance.firstAudio == nil { utterance.firstAudio = clock.now - start }
            try await output.write(chunk)
            utterance.add(chunk)
        }
        utterance.synthesis = clock.now - start
        stats.utterances.append(utterance)
    }

    /// One utterance per line of standard input, as Piper's `--json-input`. A line that fails is reported with its
    /// number and the others go on; the exit status says whether any failed.
    private func speakJSONLines(
        with synthesizer: SpeechSynthesizer, options: SpeechOptions, to output: any SpeechOutput,
        stats: inout Profile
    ) async throws {
        struct Line: Decodable {
            var text: String
            var speakerID: Int?
            var speaker: String?
            var outputFile: String?

            enum CodingKeys: String, CodingKey {
                case text, speaker
                case speakerID = "speaker_id"
                case outputFile = "output_file"
            }
        }
        var failures = 0
        var number = 0
        while let text = readLine(strippingNewline: true) {
            number += 1
            guard text.contains(where: { !$0.isWhitespace }) else { continue }
            do {
                let line: Line
                do {
                    line = try JSONDecoder().decode(Line.self, from: Data(text.utf8))
                } catch {
                    throw SpeakError("not a JSON object with a \"text\" string")
                }
                guard line.text.contains(where: { !$0.isWhitespace }) else {
                    throw SpeakError("the text is empty: there is nothing to speak")
                }
                var lineOptions = options
                if let id = line.speakerID {
                    lineOptions.parameters.speakerID = try Self.speakerID(String(id), of: synthesizer.voice)
                } else if let name = line.speaker {
                    lineOptions.parameters.speakerID = try Self.speakerID(name, of: synthesizer.voice)
                }
                if let path = line.outputFile {
                    try Self.checkWritable(path)
                    let file = SoundFileOutput(path: path)
                    try await speak(
                        line.text, with: synthesizer, options: lineOptions, to: file, stats: &stats, line: number)
                    try await file.finish()
                } else {
                    try await output.open(sampleRate: synthesizer.sampleRate)
                    try await speak(
                        line.text, with: synthesizer, options: lineOptions, to: output, stats: &stats, line: number)
                }
            } catch let error as AudioIOError where error.code == .noSoundDevice {
                throw error
            } catch {
                warn("line \(number): \(error)")
                failures += 1
            }
        }
        try await output.finish()
        if failures > 0 { throw ExitCode.failure }
    }

    // MARK: - Checks

    /// The id of `speaker` (an id or a name) in `voice`.
    static func speakerID(_ speaker: String, of voice: PiperVoice) throws -> Int {
        let count = voice.architecture.speakerCount
        if let id = Int(speaker) {
            guard id >= 0, id < count else {
                let range = count == 1 ? "it has one speaker, 0" : "its speakers are 0 to \(count - 1)"
                throw SpeakError("the voice has no speaker \(id): \(range)")
            }
            return id
        }
        if let id = voice.config.speakerIDMap[speaker] { return id }
        let names = voice.config.speakerIDMap.keys.sorted()
        let known =
            names.isEmpty
            ? "it has no named speakers"
            : "its speakers are \(names.prefix(20).joined(separator: ", "))\(names.count > 20 ? ", …" : "")"
        throw SpeakError("the voice has no speaker named '\(speaker)': \(known)")
    }

    /// Throws unless a file can be made at `path` (its folder exists and is writable, and it is no folder).
    static func checkWritable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw SpeakError("cannot write \(path): it is a folder")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SpeakError("cannot write \(path): the folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw SpeakError("cannot write \(path): the folder \(folder) is not writable")
        }
    }

    private func warn(_ message: String) {
        FileHandle.standardError.write(Data("speak: \(message)\n".utf8))
    }
}

/// A failure speak reports as it is.
struct SpeakError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where the time went, for `--profile`.
struct Profile {
    /// One text's times.
    struct Utterance {
        /// Its line of JSON input.
        var line: Int?
        var phonemizer: Duration = .zero
        /// The stages' times, summed over its chunks.
        var timings = PiperTimings()
        var chunks = 0
        var audioSeconds = 0.0
        /// From the start of its synthesis (phonemizer included) to its first chunk.
        var firstAudio: Duration?
        /// From the start of its synthesis to its last chunk taken by the output.
        var synthesis: Duration = .zero

        mutating func add(_ chunk: SpeechChunk) {
            timings.add(chunk.timings)
            if !chunk.isSilence { chunks += 1 }
            audioSeconds += chunk.duration
        }
    }

    /// From the start to a loaded voice with its stages ready.
    var load: Duration
    var utterances: [Utterance] = []

    /// The totals; with several texts (JSON input), then one line per text.
    func report(_ print: (String) -> Void) {
        func seconds(_ d: Duration) -> String { String(format: "%.3f s", d.seconds) }
        var total = Utterance()
        for u in utterances {
            total.phonemizer += u.phonemizer
            total.timings.add(u.timings)
            total.chunks += u.chunks
            total.audioSeconds += u.audioSeconds
            total.synthesis += u.synthesis
        }
        total.firstAudio = utterances.first?.firstAudio
        print("profile: model load \(seconds(load))")
        print("profile: phonemizer \(seconds(total.phonemizer))")
        print("profile: text encoder \(seconds(total.timings.textEncoder))")
        print("profile: duration predictor \(seconds(total.timings.durationPredictor))")
        print("profile: flow \(seconds(total.timings.flow))")
        print("profile: decoder \(seconds(total.timings.decoder)) (\(total.chunks) chunks)")
        print("profile: first audio \(seconds(total.firstAudio ?? .zero))")
        let factor = total.audioSeconds > 0 ? total.synthesis.seconds / total.audioSeconds : 0
        print(
            "profile: synthesis \(seconds(total.synthesis)) for \(String(format: "%.3f", total.audioSeconds)) s of audio "
                + "(real-time factor \(String(format: "%.3f", factor)))")
        guard utterances.count > 1 else { return }
        for u in utterances {
            let t = u.timings
            print(
                "profile: line \(u.line ?? 0): first audio \(seconds(u.firstAudio ?? .zero)), synthesis "
                    + "\(seconds(u.synthesis)), audio \(String(format: "%.3f s", u.audioSeconds)), phonemizer "
                    + "\(seconds(u.phonemizer)), text encoder \(seconds(t.textEncoder)), duration predictor "
                    + "\(seconds(t.durationPredictor)), flow \(seconds(t.flow)), decoder \(seconds(t.decoder))")
        }
    }
}

extension Duration {
    /// In seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
