import Dispatch

/// A pointer handed to worker threads. Each worker writes a disjoint range, which is what makes
/// sharing it sound; the type only tells the compiler so.
struct SharedPointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    init(_ base: UnsafePointer<T>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Splits `0..<count` into at most `threads` contiguous ranges of at least `grain` items and runs
/// `body` on each, in parallel when there is more than one: on `WorkerPool`'s spinning threads, or through
/// Dispatch while another thread's section holds the pool. Returns when all have finished.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, grain: Int, _ body: @Sendable (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = max(1, min(threads, count / max(grain, 1)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    let chunk: @Sendable (Int) -> Void = { c in body((count * c / chunks)..<(count * (c + 1) / chunks)) }
    if WorkerPool.shared.run(chunks: chunks, chunk) { return }
    DispatchQueue.concurrentPerform(iterations: chunks, execute: chunk)
}

/// Items per thread for a loop that streams `bytesPerItem` from memory per item: each thread should get at least
/// `bytesPerThread`. A hand-off to a spinning worker costs about a microsecond, one through Dispatch tens of
/// microseconds (a futex wake and a sleep), so below a few hundred KB a share is not worth moving. SmolLM2's
/// decoding (~250 products of 200–550 KB per token), 2 threads: 120 tok/s with 64-row shares through Dispatch,
/// 182 with 1 MB shares (the small products on one core), 240–248 with 256 KB shares on the spinning pool.
@inline(__always)
func streamingGrain(bytesPerItem: Int, minimum: Int = 1, bytesPerThread: Int = 256 << 10) -> Int {
    max(minimum, bytesPerThread / max(bytesPerItem, 1))
}
