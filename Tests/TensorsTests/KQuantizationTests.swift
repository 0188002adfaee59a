import Foundation
import Testing

@testable import Tensors

/// ggml's k-quant super-blocks (q4_K, q6_K): the dequantizer against the `gguf` package's numpy one, bit
/// for bit, and the reference quantizer's error bounds.
@Suite("K-quant super-blocks (q4_K, q6_K)")
struct KQuantizationTests {
    @Test("dequantizing random blocks matches the gguf package bit for bit", arguments: [DType.q4_K, .q6_K])
    func matchesGGUFPackage(dtype: DType) throws {
        let fixture = dtype == .q4_K ? KQuantFixtures.q4K : KQuantFixtures.q6K
        let bytes = try #require(Data(base64Encoded: fixture.blocks))
        let expected = try #require(Data(base64Encoded: fixture.floats))
        let count = bytes.count / dtype.blockBytes * 256
        #expect(expected.count == count * 4)
        var t = Tensor(zeros: [count], dtype: dtype)
        t.withUnsafeMutableBytes { raw in raw.copyBytes(from: bytes) }
        let got = t.floats()
        let want = expected.withUnsafeBytes { raw in
            (0..<count).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
        }
        for i in 0..<count {
            #expect(got[i].bitPattern == UInt32(littleEndian: want[i]), "\(dtype) element \(i)")
        }
    }

    @Test("the 6-bit scales and mins of sub-blocks 4…7 borrow the top bits of bytes 0…7")
    func scaleMinPacking() {
        // Scales 0…7 = 1, 62, 3, 40, 63, 17, 33, 48; mins = 60, 2, 9, 0, 21, 63, 1, 36.
        let scales: [UInt8] = [1, 62, 3, 40, 63, 17, 33, 48]
        let mins: [UInt8] = [60, 2, 9, 0, 21, 63, 1, 36]
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = scales[j] | (scales[j + 4] >> 4) << 6
            packed[j + 4] = mins[j] | (mins[j + 4] >> 4) << 6
            packed[j + 8] = (scales[j + 4] & 0x0F) | (mins[j + 4] & 0x0F) << 4
        }
        packed.withUnsafeBytes { raw in
            for j in 0..<8 {
                let (s, m) = KQuantization.scaleMin(raw.baseAddress!, j)
                #expect(s == scales[j] && m == mins[j], "sub-block \(j)")
            }
        }
    }

    @Test("dequantize(quantize(x)) is within a step of x", arguments: [DType.q4_K, .q6_K])
    func roundTrip(dtype: DType) {
        var rng = SeededRandom(seed: 9)
        let (rows, cols) = (3, 512)
        // Rows of different magnitudes, one with an offset, so mins and scales of both signs appear.
        var x = rng.tensor([rows, cols], scale: 1).floats()
        for i in 0..<cols {
            x[i] *= 0.01
            x[cols + i] += 0.5
            x[2 * cols + i] *= 3
        }
        let q = Quantization.quantize(x, shape: [rows, cols], as: dtype)
        #expect(q.byteCount == rows * cols / 256 * dtype.blockBytes)
        let back = q.floats()
        let sub = dtype == .q4_K ? 32 : 16
        var squared: Float = 0
        for s in 0..<(x.count / sub) {
            let part = x[(s * sub)..<(s * sub + sub)]
            let block = x[(s * sub / 256 * 256)..<(s * sub / 256 * 256 + 256)]
            let blockMax = block.map(abs).max()!
            // One step of the sub-block (twice the rounding error), plus the 6- or 8-bit rounding of the
            // scales against the block's largest, which shifts up to 15 or 32 steps by half a scale unit.
            let step = dtype == .q4_K ? (part.max()! - Swift.min(0, part.min()!)) / 15 : part.map(abs).max()! / 32
            for i in (s * sub)..<(s * sub + sub) {
                #expect(abs(back[i] - x[i]) <= step + blockMax * 0.02, "\(dtype) element \(i)")
                squared += (back[i] - x[i]) * (back[i] - x[i])
            }
        }
        // The last row (uniform in ±3) averages well under a step: RMS ≈ step / √12.
        let rms = (squared / Float(x.count)).squareRoot()
        #expect(rms < (dtype == .q4_K ? 0.15 : 0.04))
    }

    @Test("rows are whole super-blocks, and floats() of a slice of rows matches the whole")
    func rows() {
        var rng = SeededRandom(seed: 4)
        for dtype in [DType.q4_K, .q6_K] {
            let q = Quantization.quantize(rng.tensor([5, 256]).floats(), shape: [5, 256], as: dtype)
            #expect(Quantization.supports(dtype) && KQuantization.supports(dtype))
            #expect(Quantization.dequantize(q, rows: 2..<4) == Array(q.floats()[512..<1024]))
        }
        #expect(!KQuantization.supports(.q5_K))
    }
}
