import ArgumentParser
import Compute
import Dispatch
import Foundation
import Tensors

/// LLM decoding reads every weight once per token, so its speed limit is the machine's memory read
/// bandwidth. `bandwidth` measures that limit; `quant` measures how close the matrix-vector kernels of
/// each weight format come to it.
struct Bandwidth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measures memory read bandwidth with all cores (sum of a large buffer).")

    @Option(name: .shortAndLong, help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Buffer size in MiB (well beyond the last-level cache).")
    var mib: Int = 512

    func run() throws {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let gbs = ReadBandwidth.measure(bytes: mib << 20, threads: threads)
        print(String(format: "read bandwidth, %d MiB, %d threads: %.1f GB/s (best of runs)", mib, threads, gbs))
    }
}

enum ReadBandwidth {
    /// GB/s of summing a buffer of `bytes` floats, a 32 MiB segment at a time split over `threads` cores:
    /// the best segment over several passes. Each segment was last read a whole buffer ago, so it comes
    /// from memory; short segments let the best one fall between the neighbours' bursts on a shared machine.
    static func measure(bytes: Int, threads: Int, passes: Int = 20) -> Double {
        let count = bytes / 4
        let segment = 8 << 20  // floats
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        // Touch every page first: the first pass would otherwise time page faults.
        buffer.initialize(repeating: 1, count: count)
        let chunks = max(1, threads)
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks)
        defer { partial.deallocate() }
        let out = SendablePointer(partial)
        var best = Double.infinity
        var sink: Float = 0
        for _ in 0..<passes {
            for start in stride(from: 0, to: count - segment + 1, by: segment) {
                let base = SendablePointer(buffer + start)
                let t0 = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let lo = segment * c / chunks / 64 * 64
                    let hi = c == chunks - 1 ? segment : segment * (c + 1) / chunks / 64 * 64
                    out.base[c] = sum(base.base + lo, count: hi - lo)
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                for c in 0..<chunks { sink += partial[c] }
            }
        }
        // The sum must be used, or the reads could be optimised away.
        if sink == -1 { print(sink) }
        return Double(segment * 4) / best / 1e9
    }

    /// Σ of `count` floats (a multiple of 64), four independent SIMD16 accumulators.
    private static func sum(_ p: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(p)
        var a0 = SIMD16<Float>(repeating: 0)
        var a1 = a0
        var a2 = a0
        var a3 = a0
        var i = 0
        while i < count {
            let q = raw + 4 * i
            a0 += q.loadUnaligned(as: SIMD16<Float>.self)
            a1 += q.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            a2 += q.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
            a3 += q.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
            i += 64
        }
        return (a0 + a1 + a2 + a3).sum()
    }
}

/// A pointer shared with worker threads that write disjoint parts of it.
struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// Times `linear` for one row of x (a decode step) over each weight format at LLM shapes, and prints the
/// weight bytes read per second against the measured read bandwidth.
struct Quant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Times the matrix-vector kernels of each weight format against memory bandwidth.")

    @Option(name: .shortAndLong, help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(help: "Minimum seconds spent timing each kernel.")
    var seconds: Double = 0.5

    @Option(help: "MiB of weight copies cycled through so that weights come from memory, not cache.")
    var mib: Int = 256

    @Option(help: "Only shapes or types whose label contains this text (e.g. q4_1, output).")
    var only: String?

    func run() throws {
        let engine = ComputeEngine(threads: threads)
        let threads = engine.cpu.threads
        let bandwidth = ReadBandwidth.measure(bytes: 512 << 20, threads: threads)
        print("Matrix-vector kernels (m = 1), \(threads) threads, weights cycled over \(mib) MiB of copies")
        print(String(format: "measured read bandwidth: %.1f GB/s\n", bandwidth))
        print(
            pad("shape", 30) + pad("type", 6) + pad("MB", 8) + pad("µs", 9) + pad("GB/s", 8) + pad("% bw", 7)
                + "hot GB/s")

        // SmolLM2-135M (dim 576, ffn 1536, vocab 49152) and a 1B-class Llama layer (dim 2048, ffn 8192).
        // The k-quants need rows of whole 256-element super-blocks, so they skip k = 576.
        let shapes: [(String, Int, Int)] = [
            ("smollm2 ffn_up  576→1536", 576, 1536),
            ("smollm2 ffn_down 1536→576", 1536, 576),
            ("smollm2 output 576→49152", 576, 49152),
            ("llama-1b ffn 2048→8192", 2048, 8192),
        ]
        var rng = SeededRandom(seed: 3)
        for (label, k, n) in shapes {
            let values = rng.tensor([n, k], scale: 0.1).floats()
            for dtype in [DType.f16, .q8_0, .q4_1, .q4_0, .q6_K, .q4_K] where k % dtype.blockSize == 0 {
                if let only, !label.contains(only) && dtype.rawValue != only { continue }
                let w =
                    dtype == .f16
                    ? rng.tensor([n, k], scale: 0.1, dtype: .f16)
                    : Quantization.quantize(values, shape: [n, k], as: dtype)
                let copies = max(1, (mib << 20) / w.byteCount)
                var weights: [PreparedWeight] = []
                for _ in 0..<copies {
                    var c = w
                    c.makeUnique()
                    weights.append(try engine.prepare(c, for: .linear))
                }
                let x = rng.tensor([1, k])
                var y = Tensor(zeros: [1, n])
                // Each call reads the copy least recently read, long evicted from the caches. The best call
                // counts: on a shared machine, long passes mostly measure the neighbours.
                var next = 0
                let cold = time {
                    try? engine.linear(x, weights[next], into: &y)
                    next = (next + 1) % copies
                }
                let hot = time { try? engine.linear(x, weights[0], into: &y) }
                let bytes = Double(w.byteCount)
                print(
                    pad(label, 30) + pad(dtype.rawValue, 6) + pad(String(format: "%.2f", bytes / 1e6), 8)
                        + pad(String(format: "%.1f", cold * 1e6), 9)
                        + pad(String(format: "%.1f", bytes / cold / 1e9), 8)
                        + pad(String(format: "%.0f", 100 * bytes / cold / 1e9 / bandwidth), 7)
                        + String(format: "%.1f", bytes / hot / 1e9))
            }
        }
    }

    /// Best time of `body` over repeated runs spending at least `seconds` in total.
    func time(_ body: () -> Void) -> Double { bestTime(seconds: seconds, minimumRuns: 5, body) }
}
