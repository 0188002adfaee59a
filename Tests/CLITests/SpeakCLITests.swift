import Foundation
import HarkTestSupport
import Testing

/// `speak` end to end: files, streams, standard input, JSON lines, ALSA playback through the file plugin, the errors
/// a user meets, and a round trip through `transcribe`.
extension CLITests {
    /// What a finished process left.
    struct Finished {
        let status: Int32
        let output: Data
        let errors: String
    }

    /// Runs a built product with `input` on standard input, keeping standard output and standard error apart.
    func launch(
        _ product: String, _ arguments: [String], input: String = "", environment: [String: String] = [:]
    ) throws -> Finished {
        let result = try ChildProcess.run(
            productsDirectory.appending(path: product), arguments, input: Data(input.utf8), environment: environment)
        return Finished(status: result.status, output: result.outputData, errors: result.error)
    }

    func makeTemporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "hark-speak-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A 16-bit PCM WAV's format and sample bytes.
    struct WAV {
        let sampleRate: Int
        let channels: Int
        let bitsPerSample: Int
        let data: Data

        var duration: Double { Double(data.count) / Double(sampleRate * channels * bitsPerSample / 8) }

        /// The samples as floats.
        var samples: [Float] {
            data.withUnsafeBytes { raw in
                (0..<(data.count / 2)).map {
                    Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) / 32768
                }
            }
        }

        /// Parses RIFF/WAVE with a `fmt ` and a `data` chunk; a data size of 0xFFFFFFFF (a stream) runs to the end.
        init(_ bytes: Data) throws {
            let bytes = [UInt8](bytes)
            func u32(_ at: Int) -> Int {
                Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
            }
            func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
            guard bytes.count >= 44, bytes[0..<4] == [0x52, 0x49, 0x46, 0x46],
                bytes[8..<12] == [0x57, 0x41, 0x56, 0x45]
            else { throw Failure("not a WAV file (\(bytes.count) bytes)") }
            var offset = 12
            var format: (rate: Int, channels: Int, bits: Int)? = nil
            while offset + 8 <= bytes.count {
                let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
                let size = u32(offset + 4)
                if id == "fmt " {
                    guard u16(offset + 8) == 1 else { throw Failure("not PCM") }
                    format = (u32(offset + 12), u16(offset + 10), u16(offset + 22))
                } else if id == "data", let format {
                    let end = size == 0xFFFF_FFFF ? bytes.count : min(bytes.count, offset + 8 + size)
                    sampleRate = format.rate
                    channels = format.channels
                    bitsPerSample = format.bits
                    data = Data(bytes[(offset + 8)..<end])
                    return
                }
                offset += 8 + size + size % 2
            }
            throw Failure("no fmt and data chunks")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: - Outputs

    @Test("speak -f writes a 22050 Hz mono 16-bit WAV of the sentence; --output-raw and -f - stream the same samples")
    func speakOutputs() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appending(path: "out.wav")
        let written = try launch("speak", ["Hello from Hark.", "-f", file.path])
        #expect(written.status == 0, "\(written.errors)")
        #expect(written.output.isEmpty)
        let wav = try WAV(Data(contentsOf: file))
        #expect(wav.sampleRate == 22_050 && wav.channels == 1 && wav.bitsPerSample == 16)
        #expect(wav.duration > 0.5 && wav.duration < 4, "\(wav.duration) s")
        #expect(wav.samples.map(abs).max()! > 0.1)

        let raw = try launch("speak", ["Hello from Hark.", "--output-raw"])
        #expect(raw.status == 0, "\(raw.errors)")
        #expect(raw.output == wav.data, "raw \(raw.output.count) bytes, WAV data \(wav.data.count) bytes")

        let streamed = try launch("speak", ["Hello from Hark.", "-f", "-"])
        #expect(streamed.status == 0, "\(streamed.errors)")
        #expect(try WAV(streamed.output).data == wav.data)
    }

    @Test("speak reads the text from standard input when no text is given")
    func speakStandardInput() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appending(path: "stdin.wav")
        let result = try launch("speak", ["-f", file.path], input: "Text can come from standard input as well.\n")
        #expect(result.status == 0, "\(result.errors)")
        #expect(try WAV(Data(contentsOf: file)).duration > 1.5)
    }

    @Test("speak --json-input writes each line's output_file")
    func speakJSONInput() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = folder.appending(path: "first.wav")
        let second = folder.appending(path: "second.wav")
        let lines = [
            #"{"text": "This is the first line.", "output_file": "\#(first.path)"}"#, "",
            #"{"text": "And this is the second one.", "speaker_id": 0, "output_file": "\#(second.path)"}"#,
        ]
        let result = try launch("speak", ["--json-input"], input: lines.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.errors)")
        #expect(try WAV(Data(contentsOf: first)).duration > 0.8)
        #expect(try WAV(Data(contentsOf: second)).duration > 0.8)

        let bad = try launch("speak", ["--json-input", "--output-raw"], input: "{\"text\": \"\"}\nnot json\n")
        #expect(bad.status != 0)
        #expect(bad.errors.contains("line 1: the text is empty") && bad.errors.contains("line 2"), "\(bad.errors)")
        #expect(bad.output.isEmpty)
    }

    // MARK: - Playback

    /// An ALSA configuration of its own (`ALSA_CONFIG_PATH` replaces the system's, so the slaves are inline): the
    /// default device and `hark_test` write raw samples to files in `folder`.
    func alsaEnvironment(_ folder: URL) throws -> [String: String] {
        let configuration = """
            pcm.!default {
                type file
                slave { pcm { type null } }
                file "\(folder.appending(path: "default.raw").path)"
                format raw
            }
            pcm.hark_test {
                type file
                slave { pcm { type null } }
                file "\(folder.appending(path: "played.raw").path)"
                format raw
            }

            """
        let path = folder.appending(path: "asoundrc")
        try Data(configuration.utf8).write(to: path)
        return ["ALSA_CONFIG_PATH": path.path]
    }

    @Test("speak with no output plays through ALSA (here the file plugin): the device gets the samples")
    func speakPlayback() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = try alsaEnvironment(folder)
        let raw = try launch("speak", ["Hello from Hark.", "--output-raw"])
        #expect(raw.status == 0 && raw.output.count > 22_050)

        for (arguments, file) in [([], "default.raw"), (["--device", "hark_test"], "played.raw")] {
            let played = try launch("speak", ["Hello from Hark."] + arguments, environment: environment)
            #expect(played.status == 0, "\(played.errors)")
            let bytes = try Data(contentsOf: folder.appending(path: file))
            // The file plugin pads the last period with silence, nothing else.
            #expect(bytes.count >= raw.output.count)
            #expect(bytes.prefix(raw.output.count) == raw.output)
            #expect(bytes.dropFirst(raw.output.count).allSatisfy { $0 == 0 })
        }
    }

    @Test("speak says plainly when there is no sound device, and suggests -f")
    func speakNoSoundDevice() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try launch(
            "speak", ["Hello.", "--device", "no_such_device"], environment: try alsaEnvironment(folder))
        #expect(result.status != 0)
        #expect(result.errors.contains("no sound device 'no_such_device'"), "\(result.errors)")
        #expect(result.errors.contains("-f FILE.wav"), "\(result.errors)")
        #expect(result.output.isEmpty)
    }

    // MARK: - Errors

    @Test(
        "speak refuses bad input with a message, a failure status and no output",
        arguments: [
            (["   "], "", "the text is empty"),
            ([], " \n ", "the text is empty"),
            (["Hello.", "-m", "no-such-voice"], "", "no-such-voice"),
            (["Hello.", "-m", "/no/such/voice.onnx"], "", "/no/such/voice.onnx"),
            (["Hello.", "-s", "5"], "", "no speaker 5"),
            (["Hello.", "-s", "nobody"], "", "no speaker named 'nobody'"),
            (["Hello.", "--backend", "npu"], "", "available: cpu"),
            (["Hello.", "-f", "/no/such/folder/out.wav"], "", "/no/such/folder"),
            (["... ?"], "", "nothing to pronounce"),
        ])
    func speakErrors(arguments: [String], input: String, message: String) throws {
        for output in [["--output-raw"], ["-f", "-"]] {
            let arguments = arguments.contains("-f") ? arguments : arguments + output
            let result = try launch("speak", arguments, input: input)
            #expect(result.status != 0)
            #expect(result.errors.contains(message), "\(arguments): \(result.errors)")
            #expect(result.output.isEmpty, "\(arguments): \(result.output.count) bytes on standard output")
        }
    }

    // MARK: - Intelligibility

    /// Word error rate of `hypothesis` against `reference`, after lower-casing and dropping punctuation.
    static func wordErrorRate(_ hypothesis: String, _ reference: String) -> Double {
        func words(_ text: String) -> [String] {
            let kept = text.lowercased().map { (c: Character) -> Character in
                c.isLetter || c.isNumber || c == "'" ? c : " "
            }
            return String(kept).split(separator: " ").map(String.init)
        }
        let h = words(hypothesis)
        let r = words(reference)
        guard !r.isEmpty else { return h.isEmpty ? 0 : 1 }
        // previous[j]: edits between the first i − 1 reference words and the first j hypothesis words.
        var previous = Array(0...h.count)
        for i in 1...r.count {
            var current = [i] + Array(repeating: 0, count: h.count)
            for j in 0..<h.count {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (r[i - 1] == h[j] ? 0 : 1))
            }
            previous = current
        }
        return Double(previous[h.count]) / Double(r.count)
    }

    @Test("round trip: speech from speak, transcribed by transcribe, has a word error rate ≤ 10 %")
    func speakIntelligibility() throws {
        let sentences = [
            "The weather today is sunny with a light breeze from the west.",
            "Please remind me to call my sister tomorrow morning.",
            "How far is it from the station to the museum?",
            "She bought fresh bread, cheese and apples at the market.",
            "Turn off the kitchen lights and lock the front door.",
            "Reading a good book on a rainy evening is a simple pleasure.",
        ]
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = sentences.indices.map { folder.appending(path: "sentence-\($0).wav").path }
        let lines = zip(sentences, files).map { #"{"text": "\#($0)", "output_file": "\#($1)"}"# }
        let spoken = try launch("speak", ["--json-input"], input: lines.joined(separator: "\n") + "\n")
        #expect(spoken.status == 0, "\(spoken.errors)")

        let heard = try launch("transcribe", files)
        #expect(heard.status == 0, "\(heard.errors)")
        let transcript = String(decoding: heard.output, as: UTF8.self)
        let rate = Self.wordErrorRate(transcript, sentences.joined(separator: " "))
        print("speak → transcribe WER \(String(format: "%.1f", rate * 100)) %:\n\(transcript)")
        #expect(rate <= 0.10, "WER \(rate): \(transcript)")
    }

    @Test("the word error rate of the round trip counts substitutions, insertions and deletions")
    func wordErrorRate() {
        #expect(Self.wordErrorRate("Hello, world!", "hello world") == 0)
        #expect(Self.wordErrorRate("hello there world", "hello world") == 0.5)
        #expect(Self.wordErrorRate("hello", "hello world") == 0.5)
        #expect(Self.wordErrorRate("goodbye world", "hello world") == 0.5)
    }
}
