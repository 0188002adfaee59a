import Foundation
import HarkTestSupport
import Testing

/// End-to-end: the built executables, run as a user runs them, judged by exit status and output.
@Suite("Command-line tools")
struct CLITests {
    /// Runs a built product with arguments; returns (status, stdout + stderr).
    func run(_ product: String, _ arguments: [String]) throws -> (Int32, String) {
        let result = try ChildProcess.run(productsDirectory.appending(path: product), arguments, mergeOutput: true)
        return (result.status, result.output)
    }

    /// Where SwiftPM put the products: beside the test bundle (on Linux, the folder of the test runner).
    var productsDirectory: URL {
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    @Test(
        "hark-models inspect lists the tensors of each default model",
        arguments: [
            ("en_US-joe-medium", "ONNX ir_version 8", "dec.ups.0.weight"),
            ("whisper-tiny.en", "WhisperSpec revision 3", "encoder/conv1/weight"),
            ("smollm2-135m-instruct-q4_1", "architecture llama", "token_embd.weight"),
        ])
    func inspect(model: String, header: String, tensor: String) throws {
        let (status, output) = try run("hark-models", ["inspect", model])
        #expect(status == 0, "\(output)")
        #expect(output.contains(header))
        #expect(output.contains(tensor))
    }

    @Test("hark-models inspect names the file and offset of a truncated model")
    func inspectTruncated() throws {
        let (status, path) = try run("hark-models", ["path", "whisper-tiny.en"])
        #expect(status == 0, "\(path)")
        let source = URL(fileURLWithPath: path.trimmingCharacters(in: .whitespacesAndNewlines)).appending(
            path: "model.bin")
        let data = try Data(contentsOf: source, options: .alwaysMapped).prefix(5000)
        let truncated = FileManager.default.temporaryDirectory.appending(path: "hark-truncated-\(getpid()).bin")
        try data.write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        let (code, output) = try run("hark-models", ["inspect", truncated.path])
        #expect(code != 0)
        #expect(output.contains(truncated.path) && output.contains("truncated at byte"), "\(output)")
    }

    @Test("harkd --check refuses a config file that does not exist, naming it")
    func harkdCheckMissingConfig() throws {
        let missing = "/nonexistent/hark-\(getpid())/harkd.json"
        let (status, output) = try run("harkd", ["--check", "--config", missing])
        #expect(status != 0)
        #expect(output.contains(missing), "\(output)")
    }

    static let speech = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appending(path: "shared/testdata/speech")

    @Test("transcribe prints the words of a recording and writes SubRip, WebVTT, text and JSON files")
    func transcribe() throws {
        let out = FileManager.default.temporaryDirectory.appending(path: "hark-transcribe-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, output) = try run(
            "transcribe",
            [
                Self.speech.appending(path: "jfk_inaugural_1961.wav").path, "-osrt", "-ovtt", "-otxt", "-oj", "-of",
                out.path,
            ])
        #expect(status == 0, "\(output)")
        #expect(output.lowercased().contains("ask not what your country can do for you"))
        let srt = try String(contentsOf: out.appendingPathExtension("srt"), encoding: .utf8)
        #expect(srt.hasPrefix("1\n00:00:00,000 --> 00:00:0"))
        let vtt = try String(contentsOf: out.appendingPathExtension("vtt"), encoding: .utf8)
        #expect(vtt.hasPrefix("WEBVTT\n\n00:00:00.000 --> "))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathExtension("json")))
        #expect(((json as? [String: Any])?["transcription"] as? [Any])?.isEmpty == false)
        #expect(try String(contentsOf: out.appendingPathExtension("txt"), encoding: .utf8).contains("your country"))
    }

    @Test("transcribe reads a WAV on standard input, and gives nothing for a recording without speech")
    func transcribeStandardInputAndSilence() throws {
        let piped = try ChildProcess.run(
            productsDirectory.appending(path: "transcribe"), ["-"],
            input: try Data(contentsOf: Self.speech.appending(path: "timit_LDC93S1.wav")))
        #expect(piped.status == 0)
        #expect(piped.output.lowercased().contains("greasy wash water"))

        let (status, output) = try run(
            "transcribe", [Self.speech.appending(path: "nonspeech_picovoice_leopard_empty.wav").path])
        #expect(status == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(output)")
    }

    @Test("transcribe --prompt conditions the text as faster-whisper's initial_prompt does")
    func transcribePrompt() throws {
        // The same clip and prompt as Tests/SpeechServersTests/Fixtures/whisper-prompt-tiny.en.json, whose
        // faster-whisper segments read "All now alongside…" without the prompt and "All nouns alongside…" with it.
        let clip = Self.speech.appending(path: "fleurs_en_us_test_001.wav").path
        let (plainStatus, plain) = try run("transcribe", ["--no-vad", clip])
        #expect(plainStatus == 0, "\(plain)")
        #expect(plain.contains("All now alongside"), "\(plain)")
        let (status, output) = try run(
            "transcribe", ["--no-vad", "--prompt", "In German, the polite word Sie is capitalized.", clip])
        #expect(status == 0, "\(output)")
        #expect(output.contains("All nouns alongside"), "\(output)")
    }

    @Test("transcribe refuses a file that is not audio with a message naming it")
    func transcribeBadInput() throws {
        let (status, output) = try run("transcribe", ["/etc/hostname"])
        #expect(status != 0)
        #expect(output.contains("/etc/hostname") && output.contains("cannot read audio"))
    }

    @Test("hark-bench piper times the default voice's stages and lists its ops")
    func piperBench() throws {
        let (status, output) = try run("hark-bench", ["piper", "--ids", "41", "--runs", "2"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("41 ids → ") && output.contains("decoder") && output.contains("conv1d on cpu"))
    }

    @Test("hark-bench parity passes on the CPU backend")
    func parity() throws {
        let (status, output) = try run("hark-bench", ["parity", "--seed", "11"])
        #expect(status == 0, "\(output)")
        #expect(output.contains(" 0 failed"))
    }
}
