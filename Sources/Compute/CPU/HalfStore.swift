import CKernels
import Tensors

extension Tensor {
    /// Writes the first `count` elements of the f32 tensor `source`, rounded to f16, into this f16 tensor from
    /// element `offset` on (a cache kept in half precision).
    public mutating func storeHalves(of source: Tensor, count: Int, at offset: Int) {
        precondition(dtype == .f16 && count <= source.count && offset + count <= self.count)
        source.withUnsafeFloats { src in
            withUnsafeMutableBytes { dst in
                hark_f32_to_f16(src.baseAddress!, dst.baseAddress!.assumingMemoryBound(to: UInt16.self) + offset, count)
            }
        }
    }
}
