import Dispatch

/// A pointer handed to worker threads. Each worker writes a disjoint range, which is what makes
/// sharing it sound; the type only tells the compiler so.
struct SharedPointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Splits `0..<count` into at most `threads` contiguous ranges of at least `grain` items and runs
/// `body` on each, in parallel when there is more than one. Returns when all have finished.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, grain: Int, _ body: @Sendable (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = max(1, min(threads, count / max(grain, 1)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks
        let hi = count * (c + 1) / chunks
        body(lo..<hi)
    }
}
