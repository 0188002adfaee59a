import Foundation
import Tensors

/// Op-by-op parity of a backend against the `ReferenceBackend`, in the manner of ggml's
/// test-backend-ops: each case builds random inputs, runs one op on both, and compares the outputs by
/// normalised mean squared error, NMSE = Σ(out − ref)² / Σ ref².
///
/// Every backend (and every optimised CPU kernel) runs through this; cases whose op the backend does
/// not support, or whose weight it declines at `prepare`, are reported as skipped, not failed.
public enum OpParity {
    /// Tolerances, as NMSE. f32 arithmetic on every path: rounding differences only, which grow with
    /// the length of the sums. Backends that round inputs to f16 (as NPUs do) use `reducedPrecision`.
    public enum Tolerance {
        /// Products (linear, matmul, convolutions): long f32 sums.
        public static let products = 1e-9
        /// Norms, softmax, activations, element-wise ops, gathers.
        public static let elementwise = 1e-10
        /// For backends that compute in f16 with f32 accumulation (ggml's MUL_MAT bound).
        public static let reducedPrecision = 5e-4
    }

    /// One op with its inputs; `run` executes it on a backend and returns the output.
    public struct Case: Sendable {
        public let op: Op
        public let tolerance: Double
        /// The weight the op reads, prepared per backend (nil for weightless ops).
        let weight: (tensor: Tensor, use: WeightUse)?
        let run: @Sendable (any Backend, PreparedWeight?) throws(ComputeError) -> Tensor
    }

    public enum Status: String, Sendable { case passed, failed, skipped }

    public struct Result: Sendable, CustomStringConvertible {
        public let op: Op
        public let status: Status
        public let nmse: Double
        public let maxAbsError: Double
        public let tolerance: Double
        public let note: String

        public var description: String {
            switch status {
            case .skipped: "SKIP  \(op) (\(note))"
            default:
                "\(status == .passed ? "OK  " : "FAIL") \(op): nmse \(nmse.formatted3) (≤ \(tolerance.formatted3)), max |err| \(maxAbsError.formatted3)\(note.isEmpty ? "" : " — \(note)")"
            }
        }
    }

    /// Runs every case on `backend` and on the reference.
    /// - Parameter tolerance: overrides each case's tolerance (e.g. `Tolerance.reducedPrecision`).
    public static func check(_ backend: any Backend, cases: [Case], tolerance: Double? = nil) -> [Result] {
        let reference = ReferenceBackend()
        return cases.map { c in
            let limit = tolerance ?? c.tolerance
            guard backend.supports(c.op) else {
                return Result(
                    op: c.op, status: .skipped, nmse: 0, maxAbsError: 0, tolerance: limit, note: "not supported")
            }
            do throws(ComputeError) {
                var prepared: PreparedWeight? = nil
                var referenceWeight: PreparedWeight? = nil
                if let (tensor, use) = c.weight {
                    let cpuForm = try CPUBackend.prepareForParity(tensor, use)
                    guard let native = try backend.prepare(tensor, for: use) ?? (backend is CPUBackend ? cpuForm : nil)
                    else {
                        return Result(
                            op: c.op, status: .skipped, nmse: 0, maxAbsError: 0, tolerance: limit,
                            note: "weight declined")
                    }
                    prepared = PreparedWeight.withCPUForms(
                        tensor, use: use, cpu: cpuForm, native: native, nativeBackend: backend.name)
                    referenceWeight = PreparedWeight(
                        original: tensor, use: use, cpu: tensor, native: tensor, nativeBackend: reference.name)
                }
                let out = try c.run(backend, prepared)
                let ref = try c.run(reference, referenceWeight)
                let (nmse, maxErr) = compare(out, ref)
                let ok = nmse <= limit && out.shape == ref.shape
                return Result(
                    op: c.op, status: ok ? .passed : .failed, nmse: nmse, maxAbsError: maxErr, tolerance: limit,
                    note: out.shape == ref.shape ? "" : "shape \(out.shape) vs \(ref.shape)")
            } catch {
                return Result(
                    op: c.op, status: .failed, nmse: .infinity, maxAbsError: .infinity, tolerance: limit,
                    note: error.message)
            }
        }
    }

    /// NMSE of `out` against `ref`, and the largest absolute difference. NaNs count as infinite error.
    public static func compare(_ out: Tensor, _ ref: Tensor) -> (nmse: Double, maxAbs: Double) {
        let a = out.floats()
        let b = ref.floats()
        guard a.count == b.count else { return (.infinity, .infinity) }
        var num = 0.0
        var den = 0.0
        var maxAbs = 0.0
        for i in 0..<a.count {
            let d = Double(a[i]) - Double(b[i])
            if d.isNaN { return (.infinity, .infinity) }
            num += d * d
            den += Double(b[i]) * Double(b[i])
            maxAbs = max(maxAbs, abs(d))
        }
        return (den == 0 ? num : num / den, maxAbs)
    }
}

extension CPUBackend {
    /// The CPU's form of a weight for parity runs (the CPU must take every weight the cases use).
    static func prepareForParity(_ weight: Tensor, _ use: WeightUse) throws(ComputeError) -> Tensor {
        try CPUBackend().prepare(weight, for: use) ?? weight
    }
}

extension Double {
    fileprivate var formatted3: String { String(format: "%.2e", self) }
}
