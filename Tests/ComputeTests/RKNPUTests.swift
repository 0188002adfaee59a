import Foundation
import Tensors
import Testing

@testable import Compute

/// The `rknpu` backend's real code path (dlopen, contexts, native layouts, three cores) on the EMULATED
/// runtime librknnrt_emu.so, compared op by op with the CPU reference. No NPU is involved.
@Suite("RKNPU backend on the emulated runtime")
struct RKNPUTests {
    /// Where SwiftPM put the products (the test runner's folder), hence librknnrt_emu.so.
    static var emulatorPath: String {
        let folder =
            Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
            ?? Bundle.main.bundleURL
        return folder.appending(path: "librknnrt_emu.so").path
    }

    /// The backend on the emulator, or a test failure that says how to build it.
    /// One model family's product shapes (piper, whisper, or smollm2), drawn from `seed`.
    static func productCases(_ family: String, seed: UInt64) -> [OpParity.Case] {
        var rng = SeededRandom(seed: seed)
        switch family {
        case "piper": return OpParity.piperDecoderCases(&rng)
        case "whisper": return OpParity.whisperTinyCases(&rng)
        default: return OpParity.smolLM2Cases(&rng)
        }
    }

    static func emulated(cores: Int = 3) throws -> RKNPUBackend {
        let path = emulatorPath
        guard FileManager.default.fileExists(atPath: path) else {
            let message =
                "the librknnrt emulator is not at \(path): `swift test` does not build dynamic library products, "
                + "run `swift build` (or `swift build -c release` for release tests) first"
            Issue.record(Comment(rawValue: message))
            throw RKNPUError(.libraryMissing, "no emulator")
        }
        return try RKNPUBackend(libraryPath: path, cores: cores)
    }

    @Test("the emulator loads, says it is one, and opens a context per core")
    func loads() throws {
        let npu = try Self.emulated()
        #expect(npu.version.contains("EMULATOR"))
        #expect(npu.cores == 3)
        #expect(npu.libraryPath.hasSuffix("librknnrt_emu.so"))
    }

    @Test("model shapes match the CPU reference within the fp16 tolerance", arguments: ["piper", "whisper", "smollm2"])
    func modelShapes(family: String) throws {
        let npu = try Self.emulated()
        let cases = Self.productCases(family, seed: 7)
        let results = OpParity.check(npu, cases: cases, tolerance: OpParity.Tolerance.reducedPrecision)
        var worst = 0.0
        for r in results {
            switch r.status {
            case .failed: Issue.record("\(r)")
            case .passed: worst = max(worst, r.nmse)
            case .skipped:
                // Only conv_post (32→1: padding N to 16 would be 16× the work) is expected to stay on the CPU.
                #expect(r.op.name == "conv1d" && r.op.description.contains("32→1"), "\(r)")
            }
        }
        #expect(results.filter { $0.status == .passed }.count >= cases.count - 1)
        print("rknpu \(family): \(results.filter { $0.status == .passed }.count) shapes, worst NMSE \(worst)")
    }

    @Test("one core and three cores give the same result")
    func coresAgree() throws {
        let one = try Self.emulated(cores: 1)
        let three = try Self.emulated(cores: 3)
        var rng = SeededRandom(seed: 5)
        let w = rng.tensor([400, 96])
        let x = rng.tensor([21, 96])
        var outputs: [Tensor] = []
        for npu in [one, three] {
            let native = try #require(try npu.prepare(w, for: .linear))
            let pw = PreparedWeight(original: w, use: .linear, cpu: w, native: native, nativeBackend: npu.name)
            var y = Tensor(zeros: [21, 400])
            try npu.linear(x, weight: pw, bias: nil, into: &y)
            outputs.append(y)
        }
        #expect(OpParity.compare(outputs[0], outputs[1]).maxAbs == 0, "the split along N changed the result")
        #expect(RKNPUDevice.split(paddedN: 400, cores: 3).map(\.width) == [144, 144, 112])
    }

    // MARK: - Layouts

    @Test("B packs into (N/16, K/32, 16, 32) and back, and agrees with the runtime's own converter")
    func layoutB() throws {
        var rng = SeededRandom(seed: 11)
        let (k, n) = (70, 37)
        let (pk, pn) = (96, 48)
        let w = rng.tensor([n, k]).floats()  // [N, K]
        var native = [Float16](repeating: 1, count: pk * pn)
        var back = [Float](repeating: 0, count: n * k)
        w.withUnsafeBufferPointer { wp in
            NativeLayout.packB(wp.baseAddress!, order: .nk, k: k, n: n, paddedK: pk, paddedN: pn, into: &native)
        }
        NativeLayout.unpackB(native, k: k, n: n, paddedK: pk, into: &back)
        #expect(back == w.map { Float(Float16($0)) })
        // Spot checks against the documented index: block (n/16, k/32), row n%16, column k%32.
        #expect(native[(40 / 16) * 3 * 512 + 0 * 512 + (40 % 16) * 32 + 5] == 0)  // padded column
        #expect(native[(17 / 16) * 3 * 512 + (65 / 32) * 512 + (17 % 16) * 32 + 65 % 32] == Float16(w[17 * k + 65]))

        // The same weight given as [K, N] must land identically; the runtime converts row-major (K, N).
        var kn = [Float](repeating: 0, count: pk * pn)
        for c in 0..<n { for r in 0..<k { kn[r * pn + c] = w[c * k + r] } }
        var ours = [Float16](repeating: 0, count: pk * pn)
        kn.withUnsafeBufferPointer { p in
            NativeLayout.packB(p.baseAddress!, order: .kn, k: pk, n: pn, paddedK: pk, paddedN: pn, into: &ours)
        }
        #expect(ours == native)
        let npu = try Self.emulated()
        let convert = try #require(npu.device.runtime.normalToNative)
        var input = kn.map { Float16($0) }
        var theirs = [Float16](repeating: 0, count: pk * pn)
        let info = MatmulInfo(m: 1, k: pk, n: pn, type: RKNN.float16ToFloat32)
        let status = convert(&input, &theirs, Int32(pk), Int32(pn), info.bytes)
        #expect(status == 0)
        #expect(theirs == native)
    }

    @Test("A packs into (K/8, M, 8) and C unpacks from (N/4, M, 4), padding zeroed")
    func layoutAC() {
        var rng = SeededRandom(seed: 12)
        let (rows, k, mb, pk) = (5, 19, 8, 32)
        let x = rng.tensor([rows, k]).floats()
        var a = [Float16](repeating: 9, count: pk * mb)
        x.withUnsafeBufferPointer {
            NativeLayout.packA($0.baseAddress!, rows: rows, k: k, rowStride: k, paddedM: mb, paddedK: pk, into: &a)
        }
        for m in 0..<mb {
            for kk in 0..<pk {
                let expected = m < rows && kk < k ? Float16(x[m * k + kk]) : 0
                #expect(a[(kk / 8) * mb * 8 + m * 8 + kk % 8] == expected)
            }
        }
        let n = 7
        let c = (0..<(8 * mb)).map { Float($0) }  // N padded to 8: two blocks of 4
        let bias: [Float] = [1, 2, 3, 4, 5, 6, 7]
        var y = [Float](repeating: -1, count: rows * n)
        bias.withUnsafeBufferPointer { bp in
            NativeLayout.unpackC(c, rows: rows, n: n, paddedM: mb, bias: bp.baseAddress, into: &y, rowStride: n)
        }
        for m in 0..<rows {
            for col in 0..<n { #expect(y[m * n + col] == c[(col / 4) * mb * 4 + m * 4 + col % 4] + bias[col]) }
        }
    }

    // MARK: - int8

    @Test("int8 B packs into (N/32, K/32, 32, 32) and back, and agrees with the runtime's own converter")
    func layoutBInt8() throws {
        var rng = SeededRandom(seed: 21)
        let (k, n, pk, pn) = (70, 37, 96, 64)
        let w = (0..<(n * k)).map { _ in Int8(rng.int(-127...127)) }  // [N, K]
        var native = [Int8](repeating: 1, count: pk * pn)
        var back = [Int8](repeating: 0, count: n * k)
        NativeLayout.packBInt8(w, k: k, n: n, paddedK: pk, paddedN: pn, into: &native)
        NativeLayout.unpackBInt8(native, k: k, n: n, paddedK: pk, into: &back)
        #expect(back == w)
        // The documented index: block (n/32, k/32), row n%32, column k%32; padding is zero.
        #expect(native[(40 / 32) * 3 * 1024 + 0 * 1024 + (40 % 32) * 32 + 5] == 0)
        #expect(native[(33 / 32) * 3 * 1024 + (65 / 32) * 1024 + (33 % 32) * 32 + 65 % 32] == w[33 * k + 65])
        #expect(native.count(where: { $0 != 0 }) == w.count(where: { $0 != 0 }))

        // The runtime converts row-major (K, N) with K and N already aligned.
        var kn = [Int8](repeating: 0, count: pk * pn)
        for c in 0..<n { for r in 0..<k { kn[r * pn + c] = w[c * k + r] } }
        var theirs = [Int8](repeating: 0, count: pk * pn)
        let convert = try #require(try Self.emulated(cores: 1).device.runtime.normalToNative)
        let info = MatmulInfo(m: 1, k: pk, n: pn, type: RKNN.int8ToInt32)
        #expect(convert(&kn, &theirs, Int32(pk), Int32(pn), info.bytes) == 0)
        #expect(theirs == native)
    }

    @Test("int8 A packs into (K/16, M, 16) and back; int32 C unpacks from (N/4, M, 4) and scales back")
    func layoutACInt8() {
        var rng = SeededRandom(seed: 22)
        let (rows, k, mb, pk) = (5, 40, 8, 64)
        let q = (0..<(rows * k)).map { _ in Int8(rng.int(-127...127)) }
        var a = [Int8](repeating: 9, count: pk * mb)
        NativeLayout.packAInt8(q, rows: rows, k: k, rowStride: k, paddedM: mb, paddedK: pk, into: &a)
        for m in 0..<mb {
            for kk in 0..<pk {
                #expect(a[(kk / 16) * mb * 16 + m * 16 + kk % 16] == (m < rows && kk < k ? q[m * k + kk] : 0))
            }
        }
        var back = [Int8](repeating: 0, count: rows * k)
        NativeLayout.unpackAInt8(a, rows: rows, k: k, paddedM: mb, into: &back)
        #expect(back == q)

        let n = 8
        let c = (0..<(n * mb)).map { Int32($0 * 1000 - 20_000) }
        var rowsOfC = [Int32](repeating: 0, count: rows * n)
        NativeLayout.unpackCInt32(c, rows: rows, n: n, paddedM: mb, into: &rowsOfC)
        for m in 0..<rows {
            for col in 0..<n { #expect(rowsOfC[m * n + col] == c[(col / 4) * mb * 4 + m * 4 + col % 4]) }
        }
        let rowScales = (0..<mb).map { Float($0 + 1) / 64 }
        let columnScales = (0..<n).map { Float($0 + 1) / 8 }
        var scaled = [Float](repeating: 0, count: n * mb)
        NativeLayout.dequantizeC(c, n: n, paddedM: mb, rowScales: rowScales, columnScales: columnScales, into: &scaled)
        for i in 0..<(n * mb) {
            let (col, m) = ((i / (mb * 4)) * 4 + i % 4, (i / 4) % mb)
            #expect(scaled[i] == Float(c[i]) * columnScales[col] * rowScales[m])
        }
    }

    @Test("quantizing A per row and B per column: the largest magnitude maps to ±127, zero rows stay zero")
    func int8Quantization() {
        let x: [Float] = [0.5, -2, 1.5, 0] + [0, 0, 0, 0]  // two rows of 4; the second all zero
        var scales = [Float](repeating: -1, count: 8)
        var a = [Int8](repeating: 9, count: 32 * 8)
        NativeLayout.quantizeA(x, rows: 2, k: 4, rowStride: 4, paddedM: 8, paddedK: 32, scales: &scales, into: &a)
        #expect(scales[0] == 2 / 127 && scales[1] == 1)
        #expect(Array(a[0..<4]) == [32, -127, 95, 0] && Array(a[16..<20]) == [0, 0, 0, 0])
        let w: [Float] = [1, -4, 2, 0.5]  // [N = 2, K = 2]
        let (q, columnScales) = RKNPUBackend.quantizeColumns(w, .nk, k: 2, n: 2)
        #expect(q == [32, -127, 127, 32] && columnScales == [4 / 127, 2 / 127])
    }

    @Test(
        "every model product shape as int8 × int8 → int32 on the runtime is bit-exact with integer arithmetic",
        arguments: ["piper", "whisper", "smollm2"])
    func int8ModelShapes(family: String) throws {
        let npu = try Self.emulated()
        #expect(npu.int8Available)
        let cases = Self.productCases(family, seed: 31)
        var rng = SeededRandom(seed: 32)
        var exact = 0
        for c in cases {
            let (rows, k, n) = try #require(RKNPUBackend.product(of: c.op))
            guard let (pk, pn) = RKNPUBackend.padded(k: k, n: n, precision: .int8) else {
                // conv_post (32→1) only: padding N to 32 would be 32× the work.
                #expect(c.op.name == "conv1d" && c.op.description.contains("32→1"), "\(c.op)")
                continue
            }
            let a = (0..<(rows * k)).map { _ in Int8(rng.int(-127...127)) }
            let b = (0..<(n * k)).map { _ in Int8(rng.int(-127...127)) }  // [N, K]
            var native = Tensor(zeros: [pn / 32, pk / 32, 32, 32], dtype: .i8)
            native.withUnsafeMutableBytes { out in
                NativeLayout.packBInt8(
                    b, k: k, n: n, paddedK: pk, paddedN: pn, into: out.baseAddress!.assumingMemoryBound(to: Int8.self))
            }
            try npu.device.upload(native, k: k, n: n, precision: .int8, scales: [Float](repeating: 1, count: pn))
            let weight = try #require(npu.device.weight(for: native))
            let c = try npu.device.integerProduct(a, rows: rows, weight: weight)
            var expected = [Int32](repeating: 0, count: rows * n)
            for m in 0..<rows {
                for col in 0..<n {
                    var sum: Int32 = 0
                    for kk in 0..<k { sum &+= Int32(a[m * k + kk]) * Int32(b[col * k + kk]) }
                    expected[m * n + col] = sum
                }
            }
            #expect(c == expected, "M=\(rows) K=\(k) N=\(n)")
            if c == expected { exact += 1 }
        }
        print("rknpu int8 \(family): \(exact) product shapes bit-exact")
    }

    @Test(
        "int8 weights (per channel) and activations (per row) track the CPU reference",
        arguments: ["piper", "whisper", "smollm2"])
    func int8Ops(family: String) throws {
        let npu = try RKNPUBackend(libraryPath: Self.emulatorPath, floatWeights: .int8)
        let cases = Self.productCases(family, seed: 7)
        let results = OpParity.check(npu, cases: cases, tolerance: Self.int8Tolerance)
        var worst = 0.0
        for r in results {
            switch r.status {
            case .failed: Issue.record("\(r)")
            case .passed: worst = max(worst, r.nmse)
            case .skipped: #expect(r.op.name == "conv1d" && r.op.description.contains("32→1"), "\(r)")
            }
        }
        print("rknpu int8 ops \(family): \(results.filter { $0.status == .passed }.count) shapes, worst NMSE \(worst)")
    }

    /// NMSE bound for int8 operands: two 8-bit roundings of uniform data cost about 3e-5; Gaussian rows with
    /// larger peaks more.
    static let int8Tolerance = 2e-3

    @Test(
        "block-quantized weights (q4_1, q8_0, q4_K, q6_K) run on the NPU at both precisions",
        arguments: RKNPUPrecision.allCases)
    func quantizedWeights(precision: RKNPUPrecision) throws {
        let npu = try RKNPUBackend(libraryPath: Self.emulatorPath, quantizedWeights: precision)
        #expect(npu.precision(for: .q4_1) == precision && npu.precision(for: .f32) == .float16)
        var rng = SeededRandom(seed: 8)
        let cases = [DType.q4_1, .q8_0, .q4_0, .q4_K, .q6_K].map { dtype in
            OpParity.linearCase(&rng, m: 9, k: dtype.blockSize == 256 ? 1536 : 576, n: 192, dtype: dtype, bias: false)
        }
        let limit = precision == .int8 ? Self.int8Tolerance : OpParity.Tolerance.reducedPrecision
        for r in OpParity.check(npu, cases: cases, tolerance: limit) {
            #expect(r.status == .passed, "\(r)")
        }
        // The native form lives in NPU buffers only; the host keeps a one-element handle of its element type.
        let w = OpParity.randomWeight(&rng, [80, 96], scale: 0.2, dtype: .q4_1)
        let handle = try #require(try npu.prepare(w, for: .linear))
        #expect(handle.dtype == (precision == .int8 ? .i8 : .f16) && handle.count == 1)
        let b = try #require(npu.device.weight(for: handle))
        // N = 80 pads to 96 in blocks of 32 (int8), to 80 in blocks of 16 (fp16), split over three cores.
        #expect(b.precision == precision && b.paddedK == 96 && b.n == 80)
        #expect(b.paddedN == (precision == .int8 ? 96 : 80))
        #expect(b.slices.map(\.width) == (precision == .int8 ? [32, 32, 32] : [32, 32, 16]))
    }

    // MARK: - What stays on the CPU

    @Test("misaligned, oversized, grouped, quantized and matrix-vector work is declined")
    func declines() throws {
        let npu = try Self.emulated()
        #expect(npu.supports(.linear(m: 8, k: 384, n: 384, weight: .f16)))
        #expect(!npu.supports(.linear(m: 13, k: 65, n: 33, weight: .f32)))  // padding would double the work
        #expect(!npu.supports(.linear(m: 8, k: 9000, n: 64, weight: .f32)))  // K beyond 8192
        #expect(!npu.supports(.linear(m: 1, k: 384, n: 384, weight: .f16)))  // matrix-vector
        #expect(npu.supports(.linear(m: 8, k: 576, n: 576, weight: .q4_1)))  // dequantized at load
        #expect(!npu.supports(.linear(m: 1, k: 576, n: 576, weight: .q4_1)))  // decoding stays on the CPU
        #expect(!npu.supports(.linear(m: 8, k: 576, n: 576, weight: .q5_0)))  // no dequantizer
        #expect(!npu.supports(.matmul(batch: 6, m: 9, k: 64, n: 9, transposeB: true)))
        #expect(!npu.supports(.softmax(rows: 4, n: 4)))
        let grouped = Conv1DParams(stride: 1, padding: 1, groups: 4)
        #expect(
            !npu.supports(
                .conv1d(inChannels: 64, outChannels: 64, kernel: 3, length: 50, params: grouped, weight: .f32)))
        #expect(
            !npu.supports(
                .conv1d(inChannels: 32, outChannels: 1, kernel: 7, length: 50, params: .init(padding: 3), weight: .f32))
        )
        var rng = SeededRandom(seed: 1)
        #expect(try npu.prepare(rng.tensor([33, 65]), for: .linear) == nil)
    }

    @Test("through the engine: declined ops run on the CPU, taken ones on the NPU, the profile says which")
    func engineFallback() throws {
        let profile = ComputeProfile()
        let engine = ComputeEngine(backend: try Self.emulated(), threads: 1, profile: profile)
        let cpu = ComputeEngine(threads: 1)
        var rng = SeededRandom(seed: 4)
        for (m, k, n) in [(12, 96, 64), (12, 65, 33), (1, 96, 64)] {
            let w = rng.tensor([n, k])
            let x = rng.tensor([m, k])
            let pw = try engine.prepare(w, for: .linear)
            let y = try engine.linear(x, pw)
            let expected = try cpu.linear(x, try cpu.prepare(w, for: .linear))
            let op = Op.linear(m: m, k: k, n: n, weight: .f32)
            #expect(engine.placement(of: op, weight: pw) == (m == 12 && k == 96 ? "rknpu" : "cpu"))
            #expect(OpParity.compare(y, expected).nmse < 5e-4)
        }
        let entries = Dictionary(
            uniqueKeysWithValues: profile.snapshot.map { ("\($0.key.op)@\($0.key.backend)", $0.entry) })
        let npu = try #require(entries["linear@rknpu"])
        #expect(npu.count == 1 && npu.bytesToDevice == 16 * 96 * 2 * 2 && npu.bytesFromDevice == 16 * 64 * 4)
        #expect(entries["linear@cpu"]?.count == 2)
        #expect(profile.report.contains { $0.hasPrefix("linear on rknpu: 1 ops") })
    }

    @Test("a missing runtime library is a clear error, and the preferring helper falls back to the CPU")
    func missingLibrary() throws {
        let missing = "/nonexistent/hark/librknnrt.so"
        #expect {
            _ = try RKNPUBackend(libraryPath: missing)
        } throws: { error in
            guard let e = error as? RKNPUError else { return false }
            return e.code == .libraryMissing && e.message.contains(missing) && e.message.contains("HARK_RKNN_LIB")
        }
        setenv("HARK_RKNN_LIB", missing, 1)
        defer { unsetenv("HARK_RKNN_LIB") }
        #expect {
            _ = try ComputeEngine(backendNamed: "rknpu")
        } throws: { error in
            (error as? ComputeError)?.message.contains("--backend rknpu") == true
        }
        let (engine, reason) = ComputeEngine.preferring("rknpu", threads: 1)
        #expect(engine.isCPUOnly)
        #expect(reason?.kind == .backendFailure)
        #expect(throws: ComputeError.self) { _ = try ComputeEngine(backendNamed: "tpu") }
    }

    @Test("a library without the matmul API is refused by name")
    func wrongLibrary() {
        #expect {
            _ = try RKNPUBackend(libraryPath: "libm.so.6")
        } throws: { error in
            (error as? RKNPUError)?.code == .symbolMissing
        }
    }

    // MARK: - The emulator itself

    @Test("the emulator refuses misaligned and oversized shapes with RKNN_ERR_PARAM_INVALID")
    func emulatorAlignment() throws {
        let r = try Self.emulated(cores: 1).device.runtime
        let attr = UnsafeMutableRawPointer.allocate(byteCount: RKNN.IOAttr.size, alignment: 8)
        defer { attr.deallocate() }
        for (m, k, n, type) in [
            (4, 48, 32, RKNN.float16ToFloat32), (4, 64, 8, RKNN.float16ToFloat32), (4, 64, 16, RKNN.int8ToInt32),
            (4, 8224, 32, RKNN.float16ToFloat32), (0, 64, 32, RKNN.float16ToFloat32), (4, 64, 32, 7),
        ] {
            let info = MatmulInfo(m: m, k: k, n: n, type: type)
            var context: UInt64 = 0
            #expect(r.create(&context, info.bytes, attr) == -5, "M=\(m) K=\(k) N=\(n) type \(type)")
        }
    }

    @Test("int8 × int8 → int32 in native layouts is exact")
    func emulatorInt8() throws {
        let r = try Self.emulated(cores: 1).device.runtime
        let (m, k, n) = (5, 96, 64)
        let info = MatmulInfo(m: m, k: k, n: n, type: RKNN.int8ToInt32)
        let attr = UnsafeMutableRawPointer.allocate(byteCount: RKNN.IOAttr.size, alignment: 8)
        defer { attr.deallocate() }
        var context: UInt64 = 0
        try #require(r.create(&context, info.bytes, attr) == 0)
        defer { _ = r.destroy(context) }
        #expect(MatmulKernel.dims(attr + RKNN.IOAttr.a) == [k / 16, m, 16])
        #expect(MatmulKernel.dims(attr + RKNN.IOAttr.b) == [n / 32, k / 32, 32, 32])
        #expect(MatmulKernel.dims(attr + RKNN.IOAttr.c) == [n / 4, m, 4])
        var rng = SeededRandom(seed: 3)
        let a = (0..<(m * k)).map { _ in Int8(rng.int(-128...127)) }
        let b = (0..<(k * n)).map { _ in Int8(rng.int(-128...127)) }
        let mems = [RKNN.IOAttr.a, RKNN.IOAttr.b, RKNN.IOAttr.c].map {
            r.createMem(context, MatmulKernel.byteSize(attr + $0))!
        }
        defer { for mem in mems { _ = r.destroyMem(context, mem) } }
        let pa = MatmulKernel.address(mems[0]).assumingMemoryBound(to: Int8.self)
        let pb = MatmulKernel.address(mems[1]).assumingMemoryBound(to: Int8.self)
        for row in 0..<m { for col in 0..<k { pa[(col / 16) * m * 16 + row * 16 + col % 16] = a[row * k + col] } }
        for row in 0..<k {
            for col in 0..<n {
                pb[(col / 32) * (k / 32) * 1024 + (row / 32) * 1024 + (col % 32) * 32 + row % 32] = b[row * n + col]
            }
        }
        for (mem, offset) in zip(mems, [RKNN.IOAttr.a, RKNN.IOAttr.b, RKNN.IOAttr.c]) {
            try #require(r.setIOMem(context, mem, attr + offset) == 0)
        }
        try #require(r.run(context) == 0)
        let pc = MatmulKernel.address(mems[2]).assumingMemoryBound(to: Int32.self)
        for row in 0..<m {
            for col in 0..<n {
                let expected = (0..<k).reduce(Int32(0)) { $0 + Int32(a[row * k + $1]) * Int32(b[$1 * n + col]) }
                #expect(pc[(col / 4) * m * 4 + row * 4 + col % 4] == expected)
            }
        }
    }
}
