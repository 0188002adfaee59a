import Foundation
import ModelStore
import Tensors
import Testing

@testable import Compute

/// ggml's q4_0, q4_1 and q8_0 blocks: the reference quantizer and dequantizer, the CPU's fused kernels
/// against the reference backend, and the tensors of the default LLM file.
@Suite("Block-quantized weights (q4_0, q4_1, q8_0)")
struct QuantizationTests {
    @Test("dequantize(quantize(x)) is within the format's step of x", arguments: [DType.q4_0, .q4_1, .q8_0])
    func roundTrip(dtype: DType) {
        var rng = SeededRandom(seed: 3)
        let x = rng.tensor([4, 96], scale: 2).floats()
        let q = Quantization.quantize(x, shape: [4, 96], as: dtype)
        #expect(q.byteCount == 12 * dtype.blockBytes)
        let back = Quantization.dequantize(q)
        for b in 0..<(x.count / 32) {
            let block = x[(b * 32)..<(b * 32 + 32)]
            let amax = block.map(abs).max()!
            let step: Float =
                switch dtype {
                case .q4_0: amax / 8
                case .q4_1: (block.max()! - block.min()!) / 15
                default: amax / 127
                }
            for j in (b * 32)..<(b * 32 + 32) {
                // Half a step from rounding (a whole step where q4_0 clamps the side opposite its largest
                // magnitude to −7 · |d|), plus the scale's f16 rounding over up to 15 steps.
                let limit = dtype == .q4_0 ? step : step * 0.5
                #expect(abs(back[j] - x[j]) <= limit + amax * 0.01, "\(dtype) element \(j)")
            }
        }
    }

    @Test("hand-built blocks: element j in the low nibble of byte j, element j + 16 in the high nibble")
    func knownBlocks() {
        // q4_0: d = 0.5; byte j = (j + 1) & 15 low, (15 - j) high.
        var q40: [UInt8] = Float16(0.5).bytes
        for j in 0..<16 { q40.append(UInt8((j + 1) & 15) | UInt8(15 - j) << 4) }
        let a = Quantization.dequantize(tensor(q40, dtype: .q4_0))
        for j in 0..<16 {
            #expect(a[j] == Float(((j + 1) & 15) - 8) * 0.5)
            #expect(a[j + 16] == Float(15 - j - 8) * 0.5)
        }
        // q4_1: d = 0.25, m = −1; byte j = j low, 3 high.
        var q41: [UInt8] = Float16(0.25).bytes + Float16(-1).bytes
        for j in 0..<16 { q41.append(UInt8(j) | 3 << 4) }
        let b = Quantization.dequantize(tensor(q41, dtype: .q4_1))
        for j in 0..<16 {
            #expect(b[j] == Float(j) * 0.25 - 1)
            #expect(b[j + 16] == 3 * 0.25 - 1)
        }
        // q8_0: d = 2; bytes −16…15.
        let q80: [UInt8] = Float16(2).bytes + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        let c = Quantization.dequantize(tensor(q80, dtype: .q8_0))
        #expect(c == (0..<32).map { Float($0 - 16) * 2 })
    }

    @Test("the quantizer rounds as ggml's reference does")
    func quantizerMatchesGGML() {
        // q4_0 of 0…31 / 4: the largest magnitude is 7.75, d = −7.75 / 8.
        let x = (0..<32).map { Float($0) / 4 }
        let q = Quantization.quantize(x, shape: [32], as: .q4_0)
        q.withUnsafeBytes { raw in
            #expect(Float16(bitPattern: raw.loadUnaligned(as: UInt16.self)) == Float16(-7.75 / 8))
            // Element 31 → q = min(15, trunc(−8 + 8.5)) = 0; element 0 → trunc(8.5) = 8.
            #expect(raw[2] & 0x0F == 8)
            #expect(raw[17] >> 4 == 0)
        }
        let w = Quantization.quantize(x, shape: [32], as: .q8_0)
        let back = Quantization.dequantize(w)
        #expect(abs(back[31] - 7.75) < 1e-2)
    }

    @Test(
        "the CPU's quantized linear matches the reference, decode and prefill", arguments: [DType.q4_0, .q4_1, .q8_0])
    func linearMatchesReference(dtype: DType) throws {
        var rng = SeededRandom(seed: 5)
        for (m, k, n) in [(1, 576, 97), (4, 64, 31), (11, 96, 45)] {
            let w = Quantization.quantize(rng.tensor([n, k], scale: 0.3).floats(), shape: [n, k], as: dtype)
            let x = rng.tensor([m, k])
            let bias = rng.tensor([n])
            let (out, ref) = try runBoth(w, x: x, bias: bias, threads: 3)
            #expect(OpParity.compare(out, ref).nmse < OpParity.Tolerance.products, "\(dtype) \(m)×\(k)→\(n)")
        }
    }

    @Test(
        "both matrix-vector kernels (portable Swift, AVX-512 C) match the reference",
        arguments: [DType.q4_0, .q4_1, .q8_0]
    )
    func matrixVectorKernels(dtype: DType) throws {
        var rng = SeededRandom(seed: 7)
        let kernels = QuantizedMatrix.vectorC ? [false, true] : [false]
        for (m, k, n) in [(1, 576, 97), (3, 64, 1), (4, 1536, 130), (2, 32, 2)] {
            let w = Quantization.quantize(rng.tensor([n, k], scale: 0.3).floats(), shape: [n, k], as: dtype)
            let x = rng.tensor([m, k])
            let bias = rng.tensor([n])
            let rw = PreparedWeight(original: w, use: .linear, cpu: w, native: w, nativeBackend: "reference")
            var ref = Tensor(zeros: [m, n])
            try ReferenceBackend().linear(x, weight: rw, bias: bias, into: &ref)
            for useC in kernels {
                var out = Tensor(zeros: [m, n])
                w.withUnsafeBytes { wp in
                    x.withUnsafeFloats { xp in
                        out.withUnsafeMutableFloats { yp in
                            QuantizedMatrix.matrixVector(
                                w: wp.baseAddress!, dtype: dtype, rows: n, cols: k, x: xp.baseAddress!, count: m,
                                bias: bias, y: yp.baseAddress!, threads: 3, useC: useC)
                        }
                    }
                }
                #expect(
                    OpParity.compare(out, ref).nmse < OpParity.Tolerance.products,
                    "\(dtype) \(m)×\(k)→\(n) \(useC ? "C" : "Swift")")
            }
            // The packed integer kernel (x rounded to 16 bits per block), with and without VNNI; rows past the
            // last group of 16 go to the plain kernel.
            guard let packed = QuantizedMatrix.packedForm(of: w, use: .linear) else {
                #expect(!QuantizedMatrix.vectorC || n < 16)
                continue
            }
            for vnni in QuantizedMatrix.vnni ? [false, true] : [false] {
                var out = Tensor(zeros: [m, n])
                w.withUnsafeBytes { wp in
                    packed.withUnsafeBytes { pp in
                        x.withUnsafeFloats { xp in
                            out.withUnsafeMutableFloats { yp in
                                QuantizedMatrix.matrixVectorPacked(
                                    w: wp.baseAddress!, packed: pp.baseAddress!, dtype: dtype, rows: n, cols: k,
                                    x: xp.baseAddress!, count: m, bias: bias, y: yp.baseAddress!, threads: 3,
                                    vnni: vnni)
                            }
                        }
                    }
                }
                #expect(
                    OpParity.compare(out, ref).nmse < OpParity.Tolerance.products,
                    "\(dtype) \(m)×\(k)→\(n) packed, VNNI \(vnni)")
            }
        }
    }

    @Test("x rounded to 16 bits per block: within half a step of x, and the step's sum term")
    func sixteenBitActivations() {
        var rng = SeededRandom(seed: 9)
        // A block with one outlier (as a BOS token's activations have) and an all-zero block.
        var x = rng.tensor([96], scale: 2).floats()
        x[40] = 2.5e4
        for i in 64..<96 { x[i] = 0 }
        let (q, scale, sum) = QuantizedMatrix.sixteenBit(x, count: 96)
        for b in 0..<3 {
            let block = x[(b * 32)..<(b * 32 + 32)]
            #expect(scale[b] == block.map(abs).max()! / 32767)
            var total = 0
            for i in (b * 32)..<(b * 32 + 32) {
                #expect(abs(Float(q[i]) * scale[b] - x[i]) <= scale[b] * 0.5001, "element \(i)")
                total += Int(q[i])
            }
            #expect(sum[b] == scale[b] * Float(total))
        }
        #expect(q[40] == 32767 && scale[2] == 0 && sum[2] == 0)
    }

    @Test("the CPU's k-quant linear matches the reference, decode and prefill", arguments: [DType.q4_K, .q6_K])
    func kQuantLinearMatchesReference(dtype: DType) throws {
        var rng = SeededRandom(seed: 6)
        for (m, k, n) in [(1, 1536, 97), (2, 256, 31), (4, 512, 3), (11, 768, 45)] {
            let w = Quantization.quantize(rng.tensor([n, k], scale: 0.3).floats(), shape: [n, k], as: dtype)
            let x = rng.tensor([m, k])
            let (out, ref) = try runBoth(w, x: x, bias: rng.tensor([n]), threads: 3)
            #expect(OpParity.compare(out, ref).nmse < OpParity.Tolerance.products, "\(dtype) \(m)×\(k)→\(n)")
        }
    }

    @Test("quantized weights stay quantized in the CPU form; conv of them is refused")
    func preparedForm() throws {
        let cpu = CPUBackend(threads: 1)
        let w = Quantization.quantize([Float](repeating: 1, count: 64), shape: [2, 32], as: .q4_1)
        let prepared = try #require(try cpu.prepare(w, for: .linear))
        #expect(prepared.dtype == .q4_1)
        #expect(cpu.supports(.linear(m: 1, k: 32, n: 2, weight: .q8_0)))
        #expect(cpu.supports(.embedding(vocab: 2, dim: 32, count: 1, table: .q8_0)))
        #expect(cpu.supports(.linear(m: 1, k: 256, n: 2, weight: .q6_K)))
        #expect(!cpu.supports(.linear(m: 1, k: 256, n: 2, weight: .q5_K)))
        #expect(throws: ComputeError.self) {
            _ = try cpu.prepare(w.reshaped([2, 1, 32]), for: .conv1d(Conv1DParams()))
        }
    }

    // MARK: - The default LLM file

    static var defaultModel: GGUFFile? {
        guard let store = try? ModelStore(),
            let model = try? store.installedModel(named: "smollm2-135m-instruct-q4_1")
        else { return nil }
        return try? GGUFFile(path: model.location.path)
    }

    @Test("SmolLM2's q4_1 ffn_gate weight in a linear equals the reference")
    func smolLMLinear() throws {
        let gguf = try #require(Self.defaultModel, "the default LLM is missing: run scripts/fetch-models")
        let w = try #require(gguf.tensor(named: "blk.0.ffn_gate.weight"))
        #expect(w.dtype == .q4_1)
        #expect(w.shape == [1536, 576])
        var rng = SeededRandom(seed: 11)
        for m in [1, 3, 8] {
            let (out, ref) = try runBoth(w, x: rng.tensor([m, 576]), bias: nil, threads: 4)
            #expect(OpParity.compare(out, ref).nmse < OpParity.Tolerance.products, "m = \(m)")
        }
    }

    @Test("SmolLM2's q8_0 token embeddings look up as the reference dequantizes them")
    func smolLMEmbedding() throws {
        let gguf = try #require(Self.defaultModel, "the default LLM is missing: run scripts/fetch-models")
        let table = try #require(gguf.tensor(named: "token_embd.weight"))
        #expect(table.dtype == .q8_0)
        let (vocab, dim) = (table.shape[0], table.shape[1])
        let engine = ComputeEngine(threads: 2)
        let prepared = try engine.prepare(table, for: .embedding)
        let ids: [Int32] = [0, 1, 42, Int32(vocab - 1)]
        var y = Tensor(zeros: [ids.count, dim])
        try engine.embedding(prepared, ids: ids, into: &y)
        let got = y.floats()
        for (i, id) in ids.enumerated() {
            let row = Quantization.dequantize(table, rows: Int(id)..<(Int(id) + 1))
            #expect(Array(got[(i * dim)..<((i + 1) * dim)]) == row, "token \(id)")
            #expect(row.contains { $0 != 0 } || id == 0)
        }
    }

    // MARK: - Helpers

    private func tensor(_ bytes: [UInt8], dtype: DType) -> Tensor {
        var t = Tensor(zeros: [bytes.count / dtype.blockBytes * 32], dtype: dtype)
        t.withUnsafeMutableBytes { raw in raw.copyBytes(from: bytes) }
        return t
    }

    /// y = x · Wᵀ + bias on the CPU backend and on the reference.
    private func runBoth(_ w: Tensor, x: Tensor, bias: Tensor?, threads: Int) throws -> (Tensor, Tensor) {
        let (m, n) = (x.shape[0], w.shape[0])
        let cpu = CPUBackend(threads: threads)
        let cpuForm = try #require(try cpu.prepare(w, for: .linear))
        let pw = PreparedWeight(original: w, use: .linear, cpu: cpuForm, native: nil, nativeBackend: nil)
        var out = Tensor(zeros: [m, n])
        try cpu.linear(x, weight: pw, bias: bias, into: &out)
        let rw = PreparedWeight(original: w, use: .linear, cpu: w, native: w, nativeBackend: "reference")
        var ref = Tensor(zeros: [m, n])
        try ReferenceBackend().linear(x, weight: rw, bias: bias, into: &ref)
        return (out, ref)
    }
}

extension Float16 {
    /// Little-endian bytes.
    fileprivate var bytes: [UInt8] { [UInt8(bitPattern.littleEndian & 0xFF), UInt8(bitPattern.littleEndian >> 8)] }
}
