/// A small seeded generator (SplitMix64), so random test inputs, fuzz runs and benchmarks are the same on
/// every run and machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A tensor of uniform values in [−scale, scale], stored as `dtype` (f32, f16 or bf16).
    public mutating func tensor(_ shape: [Int], scale: Float = 1, dtype: DType = .f32) -> Tensor {
        let n = shape.reduce(1, *)
        let values = (0..<n).map { _ in Float.random(in: -scale...scale, using: &self) }
        let t = Tensor(shape: shape, floats: values)
        switch dtype {
        case .f16:
            var h = Tensor(zeros: shape, dtype: .f16)
            h.withUnsafeMutableBytes { raw in
                let p = raw.bindMemory(to: Float16.self)
                for i in 0..<n { p[i] = Float16(values[i]) }
            }
            return h
        case .bf16:
            var h = Tensor(zeros: shape, dtype: .bf16)
            h.withUnsafeMutableBytes { raw in
                let p = raw.bindMemory(to: UInt16.self)
                for i in 0..<n { p[i] = UInt16(values[i].bitPattern >> 16) }
            }
            return h
        default:
            return t
        }
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
