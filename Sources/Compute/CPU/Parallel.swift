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

/// Items per thread for a loop that streams `bytesPerItem` from memory per item: each thread should get at least
/// `bytesPerThread`. Waking the other core and waiting for it costs tens of microseconds on this kind of machine
/// (a futex wake and a sleep per hand-off, worse in a VM), about what reading 1 MB takes: decoding a token of
/// SmolLM2 makes ~250 such calls, and splitting its 576-wide products two ways made 2 threads slower than 1
/// (120 against 165 tokens/s; 182 with this floor).
@inline(__always)
func streamingGrain(bytesPerItem: Int, minimum: Int = 1, bytesPerThread: Int = 1 << 20) -> Int {
    max(minimum, bytesPerThread / max(bytesPerItem, 1))
}
