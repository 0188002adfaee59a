import ArgumentParser
import Compute
import Foundation

/// A cost model, not a measurement: projects the time of Piper's HiFi-GAN decoder (medium voice) on an
/// RK3588 from its op list, where the `rknpu` backend would place each op, and throughput and bandwidth
/// figures from research/backends.md. Every figure it uses is printed, so the projection can be redone
/// with measured ones (`--npu-gflops` etc.) once a board is at hand.
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Projects RK3588 time for Piper's decoder from its op counts (a cost model, not a measurement).")

    @Option(help: "Latent frames to decode (256 samples each; 86 ≈ 1 s at 22.05 kHz).")
    var frames = 86

    @Option(
        help: """
            Decoder architecture: 'joe' (the default voice en_US-joe-medium: 256 channels, three upsamplers, \
            ResBlock2 with kernels 3, 5, 7) or 'medium-v1' (512 channels, four upsamplers, ResBlock1 with kernels \
            3, 7, 11 and dilations 1, 3, 5).
            """)
    var voice = "joe"

    @Option(
        help: """
            Operand type on the NPU: fp16 (what the rknpu backend does today) or int8 (weights per channel and \
            activations per row quantized to 8 bits: half the bytes of A, N padded to 32, twice the throughput).
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
        help: "Memory bandwidth for copies to and from NPU buffers and for element-wise ops, GB/s (17–22 measured).")
    var bandwidth = 20.0

    @Option(help: "fp32 throughput of the four A76 cores on the products the NPU declines, GFLOP/s (an assumption).")
    var cpuGflops = 40.0

    func run() throws {
        guard let shape = HiFiGAN.named[voice] else {
            throw ValidationError(
                "unknown --voice '\(voice)' (known: \(HiFiGAN.named.keys.sorted().joined(separator: ", ")))")
        }
        guard precision == "fp16" || precision == "int8" else {
            throw ValidationError("unknown --precision '\(precision)' (fp16 or int8)")
        }
        let int8 = precision == "int8"
        let npuGflops = self.npuGflops ?? (int8 ? 20 : 10)
        let ops = shape.ops(frames: frames)
        let audioSeconds = Double(frames * 256) / 22050
        print(
            "Cost model: Piper HiFi-GAN decoder '\(voice)', \(frames) frames = "
                + String(format: "%.2f s of audio at 22.05 kHz", audioSeconds))
        print("Assumptions (research/backends.md §1, §5; override with the options):")
        print(
            String(
                format: "  NPU %@ matmul %.1f GFLOP/s per core × %d cores (user-measured matmul API, not peak)",
                precision, npuGflops, cores))
        if int8 {
            print("  int8: A is 1 byte per element (half fp16's), C int32 as fp32's 4 bytes, N padded to 32 (fp16: 16)")
        }
        print(
            String(
                format: "  %.0f µs per rknn_matmul_run (unmeasured), %.0f GB/s DRAM for copies and element-wise ops",
                callMicroseconds, bandwidth))
        print(String(format: "  CPU %.0f GFLOP/s fp32 for declined products (assumed, 4× Cortex-A76)", cpuGflops))
        print("  element-wise ops (leaky ReLU, residual adds) run on the CPU, bandwidth-bound\n")

        var rows: [String: (count: Int, flops: Double, bytes: Double, seconds: Double, place: String)] = [:]
        var total = 0.0
        for op in ops {
            let flops = 2 * Double(op.multiplyAccumulates)
            let seconds: Double
            var bytes = 0.0
            let place: String
            if RKNPUBackend.takes(op), let product = RKNPUBackend.product(of: op),
                let (pk, pn) = RKNPUBackend.padded(k: product.k, n: product.n)
            {
                let moved = RKNPUBackend.transferBytes(for: op, cores: cores)
                bytes = Double((int8 ? moved.toDevice / 2 : moved.toDevice) + moved.fromDevice)
                let tiles = (product.rows + 511) / 512
                let n = int8 ? (pn + 31) / 32 * 32 : pn
                let paddedFlops = 2 * Double(product.rows * pk * n)  // row padding inside tiles ignored
                // Cores run their slices in parallel; copies and per-call costs add up serially.
                seconds =
                    paddedFlops / (npuGflops * 1e9 * Double(cores)) + bytes / (bandwidth * 1e9)
                    + Double(tiles) * callMicroseconds * 1e-6
                place = "npu"
            } else if flops > 0 {
                seconds = flops / (cpuGflops * 1e9)
                place = "cpu"
            } else {
                bytes = Double(Self.elementBytes(op))
                seconds = bytes / (bandwidth * 1e9)
                place = "cpu"
            }
            let key = "\(op.name) on \(place)"
            let r = rows[key, default: (0, 0, 0, 0, place)]
            rows[key] = (r.count + 1, r.flops + flops, r.bytes + bytes, r.seconds + seconds, place)
            total += seconds
        }
        print("op kind                     count     GFLOP    MB moved   projected ms")
        for (key, r) in rows.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            print(
                key.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "%6d %9.2f %11.1f %14.1f", r.count, r.flops / 1e9, r.bytes / 1e6, r.seconds * 1e3))
        }
        print(
            String(
                format: "\nprojected decoder time %.1f ms for %.2f s of audio: real-time factor %.3f", total * 1e3,
                audioSeconds, total / audioSeconds))
        let npuFlops = rows.values.filter { $0.place == "npu" }.reduce(0.0) { $0 + $1.flops }
        let fixed = total - npuFlops / (npuGflops * 1e9 * Double(cores))
        for target in [1.0, 0.2] where target * audioSeconds > fixed {
            let needed = npuFlops / (target * audioSeconds - fixed) / Double(cores) / 1e9
            print(
                String(
                    format: "real-time factor %.1f needs %.0f GFLOP/s per NPU core on these products", target, needed))
        }
        print(String(format: "the same products on the assumed CPU: %.1f ms", npuFlops / (cpuGflops * 1e9) * 1e3))
        print(
            "Paroli, for comparison (published, different method): RK3588 CPU RTF ≈ 0.65 for all of Piper; NPU decoder")
        print("≈ 4.3× faster than the RK3588 CPU; third-party hybrid CPU+NPU RTF ≈ 0.13 (research/backends.md §2).")
    }

    /// Bytes an element-wise op reads and writes (f32: read and write each element, plus the operand).
    static func elementBytes(_ op: Op) -> Int {
        switch op {
        case .activation(_, let count): 8 * count
        case .binary(_, let count): 12 * count
        default: 0
        }
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
