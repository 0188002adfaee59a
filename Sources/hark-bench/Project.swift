import ArgumentParser
import Compute
import Foundation
import Tensors

/// A cost model, not a measurement: projects the time of Piper's HiFi-GAN decoder (medium voice) on an
/// RK3588 from its op list, where the `rknpu` backend would place each op, and throughput and bandwidth
/// figures from research/backends.md. Every figure it uses is printed, so the projection can be redone
/// with measured ones (`--npu-gflops` etc.) once a board is at hand.
/// A cost model, not a measurement: projects the RK3588 time of synthesizing (Piper's HiFi-GAN decoder),
/// transcribing (Whisper tiny, one 30 s window) and generating (SmolLM2-135M: the prompt, then the reply token by
/// token) from each workload's op list, where the `rknpu` backend would place each op, and throughput and
/// bandwidth figures from research/backends.md. Every figure it uses is printed, so the projection can be redone
/// with measured ones (`--npu-gflops` etc.) once a board is at hand.
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Projects RK3588 time of speaking, transcribing and generating (a cost model, not a measurement).")

    @Option(
        help: """
            What to project: speak (Piper's decoder), transcribe (Whisper tiny: one 30 s window and its \
            transcript) or generate (SmolLM2-135M Q4_1: a prompt, then a reply).
            """)
    var workload = "speak"

    @Option(help: "speak: latent frames to decode (256 samples each; 86 ≈ 1 s at 22.05 kHz).")
    var frames = 86

    @Option(
        help: """
            speak: decoder architecture: 'joe' (the default voice en_US-joe-medium: 256 channels, three upsamplers, \
            ResBlock2 with kernels 3, 5, 7) or 'medium-v1' (512 channels, four upsamplers, ResBlock1 with kernels \
            3, 7, 11 and dilations 1, 3, 5).
            """)
    var voice = "joe"

    @Option(help: "transcribe: tokens the decoder generates for the window (after a 3-token prompt).")
    var transcriptTokens = 30

    @Option(help: "generate: prompt tokens (the chat template around a short question is about 40).")
    var promptTokens = 40

    @Option(help: "generate: reply tokens, decoded one at a time (on the CPU: the NPU declines one-row products).")
    var replyTokens = 64

    @Option(
        help: """
            Operand type on the NPU: fp16 or int8 (weights per channel and activations per row quantized to 8 bits: \
            half the bytes of A, N padded to 32, twice the throughput). The rknpu backend sends float weights as \
            fp16 and quantized ones as RKNPUBackend.defaultQuantizedWeights.
            """)
    var precision = "fp16"

    @Option(
        help: """
            Matmul throughput of one NPU core through the matmul API, GFLOP/s or GOP/s (user reports: ~10 fp16, \
            ~20 int8; default by --precision).
            """)
    var npuGflops: Double?

    @Option(help: "NPU cores the work is split over.")
    var cores = 3

    @Option(help: "Fixed cost of one rknn_matmul_run call, microseconds (unmeasured: an assumption).")
    var callMicroseconds = 100.0

    @Option(
        help: """
            Memory bandwidth for copies to and from NPU buffers, element-wise ops and the weights a CPU product \
            reads, GB/s (17–22 measured).
            """)
    var bandwidth = 20.0

    @Option(help: "fp32 throughput of the four A76 cores on the products the NPU declines, GFLOP/s (an assumption).")
    var cpuGflops = 40.0

    @Flag(
        help: """
            Time each product the NPU would take through the rknpu backend on the loaded runtime (HARK_RKNN_LIB or \
            the system's librknnrt.so), its A and C conversions included, and use those times in place of \
            --npu-gflops, --call-microseconds and the copy bandwidth. On a board this measures the NPU; on the \
            emulator it measures the CPU emulating one, and says so.
            """)
    var measure = false

    var npuPrecision: RKNPUPrecision { precision == "int8" ? .int8 : .float16 }

    func run() throws {
        guard precision == "fp16" || precision == "int8" else {
            throw ValidationError("unknown --precision '\(precision)' (fp16 or int8)")
        }
        let timer = measure ? try ProductTimer(precision: npuPrecision) : nil
        if let timer { print("Measuring the products on \(timer.runtime)\n") }
        switch workload {
        case "speak": try speak(timer)
        case "transcribe": transcribe(timer)
        case "generate": generate(timer)
        default: throw ValidationError("unknown --workload '\(workload)' (speak, transcribe or generate)")
        }
    }

    func speak(_ timer: ProductTimer?) throws {
        guard let shape = HiFiGAN.named[voice] else {
            throw ValidationError(
                "unknown --voice '\(voice)' (known: \(HiFiGAN.named.keys.sorted().joined(separator: ", ")))")
        }
        let audioSeconds = Double(frames * 256) / 22050
        print(
            "Cost model: Piper HiFi-GAN decoder '\(voice)', \(frames) frames = "
                + String(format: "%.2f s of audio at 22.05 kHz", audioSeconds))
        printAssumptions()
        let phase = project(shape.ops(frames: frames), timer: timer)
        print(
            String(
                format: "\nprojected decoder time %.1f ms for %.2f s of audio: real-time factor %.3f",
                phase.seconds * 1e3, audioSeconds, phase.seconds / audioSeconds))
        let fixed = phase.seconds - phase.npuPaddedFlops / (npuRate * Double(cores))
        // (With measured products there is no rate to solve for.)
        for target in [1.0, 0.2, 0.08] where timer == nil && target * audioSeconds > fixed {
            let needed = phase.npuPaddedFlops / (target * audioSeconds - fixed) / Double(cores) / 1e9
            print(
                String(
                    format: "real-time factor %.2f needs %.0f GFLOP/s per NPU core on these products", target, needed))
        }
        print(String(format: "the same products on the assumed CPU: %.1f ms", phase.npuFlops / (cpuGflops * 1e9) * 1e3))
        print(
            "Paroli, for comparison (published, different method): RK3588 CPU RTF ≈ 0.65 for all of Piper; NPU decoder")
        print("≈ 4.3× faster than the RK3588 CPU; third-party hybrid CPU+NPU RTF ≈ 0.13 (research/backends.md §2).")
    }

    func transcribe(_ timer: ProductTimer?) {
        print(
            "Cost model: Whisper tiny (f16 weights), one 30 s window: the encoder (1500 positions), then a 3-token "
                + "prompt and \(transcriptTokens) tokens decoded one at a time")
        printAssumptions()
        let ops = WhisperTinyOps()
        print("encoder and the decoder's cross-attention keys and values:")
        let encoder = project(ops.encoder() + ops.crossKeysAndValues(), timer: timer)
        print("\ndecoder (prompt, then \(transcriptTokens) tokens):")
        let decoder = project(ops.decoder(prompt: 3, tokens: transcriptTokens), timer: timer)
        let total = encoder.seconds + decoder.seconds
        print(
            String(
                format: "\nprojected: encoder %.0f ms, decoder %.0f ms (%.1f ms per token); %.0f ms per 30 s window, "
                    + "real-time factor %.3f for a full window", encoder.seconds * 1e3, decoder.seconds * 1e3,
                decoder.seconds * 1e3 / Double(max(transcriptTokens, 1)), total * 1e3, total / 30))
        let cpuEncoder = project(ops.encoder() + ops.crossKeysAndValues(), npu: false, quiet: true)
        print(String(format: "the encoder with every product on the assumed CPU: %.0f ms", cpuEncoder.seconds * 1e3))
        print(
            "useful-transformers, for comparison (published, research/backends.md §1): tiny.en ≈ 30× real time on "
                + "RK3588 (real-time factor ≈ 0.03)")
    }

    func generate(_ timer: ProductTimer?) {
        print(
            "Cost model: SmolLM2-135M-Instruct Q4_1: a \(promptTokens)-token prompt (products on the NPU), then "
                + "\(replyTokens) reply tokens decoded one at a time (one-row products: on the CPU by design)")
        printAssumptions()
        let ops = SmolLM2Ops()
        print("prompt:")
        let prompt = project(ops.forward(tokens: promptTokens, past: 0), timer: timer)
        print("\nreply (\(replyTokens) tokens):")
        let reply = project(
            (0..<replyTokens).flatMap { ops.forward(tokens: 1, past: promptTokens + $0) }, timer: timer)
        let perToken = reply.seconds / Double(max(replyTokens, 1))
        print(
            String(
                format:
                    "\nprojected: prompt %.0f ms (first token after %.0f ms), %.1f ms per reply token (%.0f tokens/s)"
                    + ", %.2f s for the whole reply", prompt.seconds * 1e3, (prompt.seconds + perToken) * 1e3,
                perToken * 1e3, 1 / perToken, prompt.seconds + reply.seconds))
        let cpuPrompt = project(ops.forward(tokens: promptTokens, past: 0), npu: false, quiet: true)
        print(
            String(
                format: "the prompt with every product on the assumed CPU: %.0f ms; research/backends.md §5 measured "
                    + "llama.cpp CPU decoding 5–8 tokens/s for 4B models (this model is 30× smaller)",
                cpuPrompt.seconds * 1e3))
    }

    // MARK: - The model

    var npuRate: Double { (npuGflops ?? (npuPrecision == .int8 ? 20 : 10)) * 1e9 }

    func printAssumptions() {
        if measure { print("The NPU's products: measured (the NPU figures below apply to nothing else).") }
        print("Assumptions (research/backends.md §1, §5; override with the options):")
        print(
            String(
                format: "  NPU %@ matmul %.1f GFLOP/s per core × %d cores (user-measured matmul API, not peak)",
                precision, npuRate / 1e9, cores))
        if npuPrecision == .int8 {
            print("  int8: A is 1 byte per element (half fp16's), C int32 as fp32's 4 bytes, N padded to 32 (fp16: 16)")
        }
        print(
            String(
                format: "  %.0f µs per rknn_matmul_run (unmeasured), %.0f GB/s DRAM for copies and element-wise ops",
                callMicroseconds, bandwidth))
        print(
            String(
                format: "  CPU %.0f GFLOP/s fp32 for declined products (assumed, 4× Cortex-A76), or the time to read "
                    + "their weights at that bandwidth when longer (one-row products)", cpuGflops))
        print("  element-wise ops, norms and attention run on the CPU\n")
    }

    /// One phase's projection: its total, and the products the NPU took (for "what would it need" lines).
    struct Phase {
        var seconds = 0.0
        var npuFlops = 0.0
        /// What the NPU computes for them, padding included.
        var npuPaddedFlops = 0.0
    }

    /// Projects `ops` op by op and prints a table by op kind and place (unless `quiet`); `npu: false` puts
    /// every product on the CPU.
    /// With a `timer`, each product on the NPU costs its measured time rather than the model's figures.
    func project(_ ops: [Op], npu: Bool = true, quiet: Bool = false, timer: ProductTimer? = nil) -> Phase {
        var rows: [String: (count: Int, flops: Double, bytes: Double, seconds: Double)] = [:]
        var phase = Phase()
        for op in ops {
            let flops = Self.flops(op)
            let seconds: Double
            var bytes = 0.0
            let place: String
            if npu, RKNPUBackend.takes(op, precision: npuPrecision), let product = RKNPUBackend.product(of: op),
                let (pk, pn) = RKNPUBackend.padded(k: product.k, n: product.n, precision: npuPrecision)
            {
                let moved = RKNPUBackend.transferBytes(for: op, cores: cores, precision: npuPrecision)
                bytes = Double(moved.toDevice + moved.fromDevice)
                let tiles = RKNPUBackend.calls(rows: product.rows)
                // The backend pads K, N and each tile's rows: the NPU computes the padding too.
                let paddedFlops = 2 * Double(RKNPUBackend.paddedRows(product.rows) * pk * pn)
                // Cores run their slices in parallel; copies and per-call costs add up serially.
                seconds =
                    timer?.seconds(op)
                    ?? paddedFlops / (npuRate * Double(cores)) + bytes / (bandwidth * 1e9)
                    + Double(tiles) * callMicroseconds * 1e-6
                place = "npu"
                phase.npuFlops += flops
                phase.npuPaddedFlops += paddedFlops
            } else if flops > 0 {
                bytes = Double(Self.weightBytes(op))
                seconds = max(flops / (cpuGflops * 1e9), bytes / (bandwidth * 1e9))
                place = "cpu"
            } else {
                bytes = Double(Self.elementBytes(op))
                seconds = bytes / (bandwidth * 1e9)
                place = "cpu"
            }
            let key = "\(op.name) on \(place)"
            let r = rows[key, default: (0, 0, 0, 0)]
            rows[key] = (r.count + 1, r.flops + flops, r.bytes + bytes, r.seconds + seconds)
            phase.seconds += seconds
        }
        guard !quiet else { return phase }
        print("op kind                     count     GFLOP    MB moved   projected ms")
        for (key, r) in rows.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            print(
                key.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "%6d %9.2f %11.1f %14.1f", r.count, r.flops / 1e9, r.bytes / 1e6, r.seconds * 1e3))
        }
        return phase
    }

    /// Floating-point operations: twice the multiply-accumulates of a product, four per score of attention
    /// (q·k and p·v).
    static func flops(_ op: Op) -> Double {
        switch op {
        case .attention(let heads, _, let rows, let keys, let headDim, _): 4 * Double(heads * rows * keys * headDim)
        default: 2 * Double(op.multiplyAccumulates)
        }
    }

    /// Bytes of the weight a CPU product reads (a one-row product is bound by them).
    static func weightBytes(_ op: Op) -> Int {
        switch op {
        case .linear(_, let k, let n, let w): w.byteCount(elements: k * n) ?? 4 * k * n
        case .conv1d(let cin, let cout, let kernel, _, let p, let w):
            w.byteCount(elements: cout * cin / max(p.groups, 1) * kernel) ?? 0
        case .convTranspose1d(let cin, let cout, let kernel, _, let p, let w):
            w.byteCount(elements: cin * cout / max(p.groups, 1) * kernel) ?? 0
        case .attention(_, let kvHeads, _, let keys, let headDim, _): 2 * kvHeads * keys * headDim * 4
        default: 0
        }
    }

    /// Bytes an element-wise op reads and writes (f32: read and write each element, plus the operand).
    static func elementBytes(_ op: Op) -> Int {
        switch op {
        case .activation(_, let count): 8 * count
        case .binary(_, let count): 12 * count
        case .rmsNorm(let rows, let n), .softmax(let rows, let n): 8 * rows * n
        case .layerNorm(let outer, let n, let inner): 8 * outer * n * inner
        case .rope(let tokens, let heads, let headDim, _): 8 * tokens * heads * headDim
        case .embedding(_, let dim, let count, let table): count * (4 * dim + (table.byteCount(elements: dim) ?? 0))
        default: 0
        }
    }
}

/// Whisper tiny's ops (d 384, 6 heads, 4 + 4 layers, FFN 1536, vocabulary 51864; f16 weights).
struct WhisperTinyOps {
    let d = 384, heads = 6, layers = 4, ffn = 1536, vocabulary = 51864, positions = 1500

    /// The conv stem, then per layer: norm, fused QKV, attention, output, MLP.
    func encoder() -> [Op] {
        var ops: [Op] = [
            .conv1d(inChannels: 80, outChannels: d, kernel: 3, length: 3000, params: .init(padding: 1), weight: .f16),
            .activation(.gelu, count: d * 3000),
            .conv1d(
                inChannels: d, outChannels: d, kernel: 3, length: 3000, params: .init(stride: 2, padding: 1),
                weight: .f16),
            .activation(.gelu, count: d * positions), .binary(.add, count: d * positions),
        ]
        for _ in 0..<layers {
            ops += [
                .layerNorm(outer: positions, n: d, inner: 1), .linear(m: positions, k: d, n: 3 * d, weight: .f16),
                .attention(
                    heads: heads, kvHeads: heads, rows: positions, keys: positions, headDim: d / heads, causal: false),
                .linear(m: positions, k: d, n: d, weight: .f16), .binary(.add, count: positions * d),
            ]
            ops += mlp(rows: positions)
        }
        return ops + [.layerNorm(outer: positions, n: d, inner: 1)]
    }

    /// Each decoder layer's cross-attention keys and values, computed once per window.
    func crossKeysAndValues() -> [Op] {
        Array(repeating: .linear(m: positions, k: d, n: 2 * d, weight: .f16), count: layers)
    }

    /// The prompt in one call, then one call per token; logits for the last row only.
    func decoder(prompt: Int, tokens: Int) -> [Op] {
        var ops = step(rows: prompt, past: 0)
        for t in 0..<tokens { ops += step(rows: 1, past: prompt + t) }
        return ops
    }

    func step(rows n: Int, past: Int) -> [Op] {
        var ops: [Op] = [.embedding(vocab: vocabulary, dim: d, count: n, table: .f16), .binary(.add, count: n * d)]
        for _ in 0..<layers {
            ops += [
                .layerNorm(outer: n, n: d, inner: 1), .linear(m: n, k: d, n: 3 * d, weight: .f16),
                .attention(heads: heads, kvHeads: heads, rows: n, keys: past + n, headDim: d / heads, causal: true),
                .linear(m: n, k: d, n: d, weight: .f16), .binary(.add, count: n * d),
                .layerNorm(outer: n, n: d, inner: 1), .linear(m: n, k: d, n: d, weight: .f16),
                .attention(heads: heads, kvHeads: heads, rows: n, keys: positions, headDim: d / heads, causal: false),
                .linear(m: n, k: d, n: d, weight: .f16), .binary(.add, count: n * d),
            ]
            ops += mlp(rows: n)
        }
        return ops + [.layerNorm(outer: n, n: d, inner: 1), .linear(m: 1, k: d, n: vocabulary, weight: .f16)]
    }

    func mlp(rows n: Int) -> [Op] {
        [
            .layerNorm(outer: n, n: d, inner: 1), .linear(m: n, k: d, n: ffn, weight: .f16),
            .activation(.gelu, count: n * ffn), .linear(m: n, k: ffn, n: d, weight: .f16),
            .binary(.add, count: n * d),
        ]
    }
}

/// SmolLM2-135M's ops as LlamaModel runs them (d 576, 9 heads over 3 key/value heads, 30 layers, FFN 1536,
/// vocabulary 49152; Q4_1 weights, the tied Q8_0 embedding as the output head).
struct SmolLM2Ops {
    let d = 576, heads = 9, kvHeads = 3, headDim = 64, layers = 30, ffn = 1536, vocabulary = 49152

    /// One forward call of `tokens` tokens after `past` cached ones; logits for the last row only.
    func forward(tokens n: Int, past: Int) -> [Op] {
        let keys = past + n
        var ops: [Op] = [.embedding(vocab: vocabulary, dim: d, count: n, table: .q8_0)]
        for _ in 0..<layers {
            ops += [
                .rmsNorm(rows: n, n: d), .linear(m: n, k: d, n: heads * headDim, weight: .q4_1),
                .linear(m: n, k: d, n: kvHeads * headDim, weight: .q4_1),
                .linear(m: n, k: d, n: kvHeads * headDim, weight: .q4_1),
                .rope(tokens: n, heads: heads, headDim: headDim, mode: .interleaved),
                .rope(tokens: n, heads: kvHeads, headDim: headDim, mode: .interleaved),
                .matmul(batch: heads, m: n, k: headDim, n: keys, transposeB: true), .softmax(rows: heads * n, n: keys),
                .matmul(batch: heads, m: n, k: keys, n: headDim, transposeB: false),
                .linear(m: n, k: heads * headDim, n: d, weight: .q4_1), .binary(.add, count: n * d),
                .rmsNorm(rows: n, n: d), .linear(m: n, k: d, n: ffn, weight: .q4_1),
                .linear(m: n, k: d, n: ffn, weight: .q4_1), .activation(.silu, count: n * ffn),
                .binary(.mul, count: n * ffn), .linear(m: n, k: ffn, n: d, weight: .q4_1), .binary(.add, count: n * d),
            ]
        }
        return ops + [.rmsNorm(rows: 1, n: d), .linear(m: 1, k: d, n: vocabulary, weight: .q8_0)]
    }
}

extension Op {
    fileprivate static func leakyOp(_ count: Int) -> Op { .activation(.leakyReLU(slope: 0.1), count: count) }
}

/// The layer sizes of a HiFi-GAN decoder, enough to list its ops.
struct HiFiGAN {
    let channels: Int
    /// (kernel, stride) of each upsampler.
    let upsamplers: [(Int, Int)]
    let kernels: [Int]
    let dilations: [Int]
    /// ResBlock1 has a dilated and an undilated conv per dilation; ResBlock2 only the dilated one.
    let twoConvsPerDilation: Bool

    static let named: [String: HiFiGAN] = [
        "joe": HiFiGAN(
            channels: 256, upsamplers: [(16, 8), (16, 8), (8, 4)], kernels: [3, 5, 7], dilations: [1, 3],
            twoConvsPerDilation: false),
        "medium-v1": HiFiGAN(
            channels: 512, upsamplers: [(16, 8), (16, 8), (4, 2), (4, 2)], kernels: [3, 7, 11], dilations: [1, 3, 5],
            twoConvsPerDilation: true),
    ]

    /// The ops for `frames` latent frames: conv_pre, each upsampler followed by its resblocks, conv_post.
    func ops(frames: Int) -> [Op] {
        var ops: [Op] = []
        var length = frames
        var c = channels
        ops.append(
            .conv1d(inChannels: 192, outChannels: c, kernel: 7, length: length, params: .init(padding: 3), weight: .f32)
        )
        for (k, s) in upsamplers {
            let p = ConvTranspose1DParams(stride: s, padding: (k - s) / 2)
            ops.append(.leakyOp(c * length))
            ops.append(
                .convTranspose1d(inChannels: c, outChannels: c / 2, kernel: k, length: length, params: p, weight: .f32))
            c /= 2
            length = p.outputLength(input: length, kernel: k)
            for kernel in kernels {
                for d in dilations {
                    var convs = [Conv1DParams(dilation: d, padding: d * (kernel - 1) / 2)]
                    if twoConvsPerDilation { convs.append(Conv1DParams(padding: (kernel - 1) / 2)) }
                    for p in convs {
                        ops.append(.leakyOp(c * length))
                        ops.append(
                            .conv1d(
                                inChannels: c, outChannels: c, kernel: kernel, length: length, params: p, weight: .f32))
                    }
                    ops.append(.binary(.add, count: c * length))
                }
            }
        }
        ops.append(.leakyOp(c * length))
        ops.append(
            .conv1d(inChannels: c, outChannels: 1, kernel: 7, length: length, params: .init(padding: 3), weight: .f32))
        ops.append(.activation(.tanh, count: length))
        return ops
    }
}

/// Times products through the rknpu backend on the loaded runtime (`project --measure`): each distinct shape once,
/// best of a few runs, end to end (A and C conversions, every core's call). The backend is called directly, so a
/// product that fails on the runtime is reported rather than quietly redone on the CPU as the engine would.
final class ProductTimer {
    let npu: RKNPUBackend
    let engine: ComputeEngine
    /// The runtime's own version line (the emulator names itself).
    let runtime: String
    private var cache: [String: Double] = [:]
    private var rng = SeededRandom(seed: 17)

    init(precision: RKNPUPrecision) throws {
        npu = try RKNPUBackend(quantizedWeights: precision, floatWeights: precision)
        engine = ComputeEngine(backend: npu)
        runtime =
            "\(npu.libraryPath): \(npu.version)"
            + (npu.version.contains("EMULATOR")
                ? " — an emulator: these are the CPU's times for emulating the NPU, not an NPU's" : "")
    }

    /// Seconds for `op` on the rknpu backend, or nil when it is not a product the backend runs there. A product
    /// that fails to run is said so (and then costed by the model), never dropped silently.
    func seconds(_ op: Op) -> Double? {
        let key = "\(op)"
        if let known = cache[key] { return known }
        var measured: Double? = nil
        do {
            measured = try time(op)
        } catch {
            print("measuring \(op) failed: \(error.message); the model's figures stand in for it")
        }
        cache[key] = measured
        return measured
    }

    private func time(_ op: Op) throws(ComputeError) -> Double? {
        let npu = npu
        let run: (inout Tensor) throws(ComputeError) -> Void
        var y: Tensor
        switch op {
        case .conv1d(let cin, let cout, let kernel, let length, let p, _):
            let w = try engine.prepare(rng.tensor([cout, cin / p.groups, kernel], scale: 0.1), for: .conv1d(p))
            let x = rng.tensor([cin, length])
            guard w.native(for: npu.name) != nil else { return nil }
            y = Tensor(zeros: [cout, p.outputLength(input: length, kernel: kernel)])
            run = { (y) throws(ComputeError) in try npu.conv1d(x, weight: w, bias: nil, params: p, into: &y) }
        case .convTranspose1d(let cin, let cout, let kernel, let length, let p, _):
            let w = try engine.prepare(
                rng.tensor([cin, cout / p.groups, kernel], scale: 0.1), for: .convTranspose1d(p))
            let x = rng.tensor([cin, length])
            guard w.native(for: npu.name) != nil else { return nil }
            y = Tensor(zeros: [cout, p.outputLength(input: length, kernel: kernel)])
            run = { (y) throws(ComputeError) in
                try npu.convTranspose1d(x, weight: w, bias: nil, params: p, into: &y)
            }
        case .linear(let m, let k, let n, _):
            let w = try engine.prepare(rng.tensor([n, k], scale: 0.1), for: .linear)
            let x = rng.tensor([m, k])
            guard w.native(for: npu.name) != nil else { return nil }
            y = Tensor(zeros: [m, n])
            run = { (y) throws(ComputeError) in try npu.linear(x, weight: w, bias: nil, into: &y) }
        default:
            return nil
        }
        guard npu.supports(op) else { return nil }
        try run(&y)  // a failure shows here, not inside the timing loop
        return bestTime(seconds: 0.2, minimumRuns: 3) { try? run(&y) }
    }
}
