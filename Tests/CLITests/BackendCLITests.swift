// The executables with `--backend rknpu` on the EMULATED runtime (librknnrt_emu.so, built beside them; no NPU is
// involved): the Piper decoder's and Whisper's products go through the rknpu backend's code path, whose fp16
// arithmetic must leave the output as the CPU backend makes it (issue 9's end-to-end checks).

import Foundation
import HarkTestSupport
import Testing

@Suite("Executables on the rknpu backend (emulated runtime)")
struct BackendCLITests {
    let cli = CLITests()

    /// Runs a built product with `HARK_RKNN_LIB` pointing at the emulator; returns (status, stdout + stderr).
    func run(_ product: String, _ arguments: [String]) throws -> (Int32, String) {
        let (status, output, log) = try runSeparately(product, arguments)
        return (status, output + log)
    }

    /// Runs a built product with `HARK_RKNN_LIB` pointing at the emulator; returns (status, stdout, stderr).
    func runSeparately(_ product: String, _ arguments: [String]) throws -> (Int32, String, String) {
        let result = try ChildProcess.run(
            cli.productsDirectory.appending(path: product), arguments,
            environment: ["HARK_RKNN_LIB": cli.productsDirectory.appending(path: "librknnrt_emu.so").path])
        return (result.status, result.output, result.error)
    }

    /// 16-bit samples of a WAV file written by `speak` (its 44-byte header skipped).
    static func samples(_ path: URL) throws -> [Float] {
        let data = try Data(contentsOf: path)
        return stride(from: 44, to: data.count - 1, by: 2).map {
            Float(Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8))
        }
    }

    @Test("speak --backend rknpu: the same samples as the CPU backend to SNR ≥ 30 dB")
    func speak() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "hark-rknpu-speak-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = "The decoder runs on the neural processing unit. Chunked decoding leaves no seams."
        var outputs: [[Float]] = []
        for backend in ["cpu", "rknpu"] {
            let wav = folder.appending(path: "\(backend).wav")
            let (status, output) = try run("speak", ["--backend", backend, "-f", wav.path, text])
            #expect(status == 0, "\(output)")
            outputs.append(try Self.samples(wav))
        }
        let (cpu, npu) = (outputs[0], outputs[1])
        #expect(cpu.count == npu.count && cpu.count > 22_050)
        let signal = cpu.reduce(0) { $0 + Double($1) * Double($1) }
        let noise = zip(cpu, npu).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let snr = 10 * log10(signal / max(noise, 1e-9))
        #expect(snr >= 30, "SNR \(snr) dB")
    }

    @Test("transcribe --backend rknpu gives the CPU backend's transcript")
    func transcribe() throws {
        let clip = CLITests.speech.appending(path: "jfk_inaugural_1961.wav").path
        let (cpuStatus, cpu, cpuLog) = try runSeparately("transcribe", ["--backend", "cpu", clip])
        let (status, npu, npuLog) = try runSeparately("transcribe", ["--backend", "rknpu", clip])
        #expect(cpuStatus == 0 && status == 0, "\(cpuLog)\n\(npuLog)")
        #expect(!cpu.isEmpty && npu == cpu, "cpu: \(cpu)\nrknpu: \(npu)")
    }

    @Test("harkd --check --backend rknpu loads the models onto the rknpu backend")
    func harkdCheck() throws {
        let (status, output) = try run(
            "harkd", ["--check", "--backend", "rknpu", "--no-audio", "--wyoming", "off", "--http", "127.0.0.1:0"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("ok: backend rknpu for the Piper decoder, Whisper and the VAD"), "\(output)")
        #expect(output.contains("backend rknpu)"), "\(output)")  // the language model's line
    }

    @Test("hark-bench project --measure times the products through the rknpu backend and names the emulator")
    func projectMeasured() throws {
        let (status, output, log) = try runSeparately("hark-bench", ["project", "--measure", "--frames", "20"])
        #expect(status == 0, "\(output)\n\(log)")
        #expect(output.contains("an emulator: these are the CPU's times"), "\(output)")
        #expect(!output.contains("failed"), "every product the NPU takes was measured: \(output)")
        // Every conv goes to the NPU but the one-output conv_post, and the projection has a measured time.
        #expect(output.contains("conv1d on npu") && output.contains("conv_transpose1d on npu"), "\(output)")
        let line = output.split(separator: "\n").first { $0.contains("projected decoder time") }
        let factor = line.flatMap { Double($0.split(separator: " ").last ?? "") }
        #expect((factor ?? 0) > 0, "\(output)")
    }
}
