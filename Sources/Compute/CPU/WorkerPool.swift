import CKernels
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Worker threads for `parallelFor` that spin briefly between parallel sections before they sleep.
///
/// Why: a matrix-vector product of a small LLM takes 10–30 µs, while handing work to another core through
/// Dispatch (a semaphore post, a futex wake, and a sleep when done) costs about as much on a VM. Decoding a token
/// makes ~250 such products back to back, so workers that stay awake for ~100 µs after each section pick the
/// next one up in about a microsecond. Then they sleep on a semaphore, so an idle process uses no CPU.
///
/// One section runs at a time; a caller that finds the pool busy (another model on another thread) returns false
/// and the caller uses Dispatch instead; so does a section started inside another one (kernels pass one thread to
/// what they call inside a section, so this does not happen on the hot paths).
final class WorkerPool: @unchecked Sendable {
    /// One worker per core beyond the caller's.
    static let shared = WorkerPool(workers: max(0, System.activeProcessorCount - 1))

    /// A section: chunks handed out by an atomic counter; `body` lives only while `run` waits.
    private final class Section: @unchecked Sendable {
        let chunks: Int
        let body: (Int) -> Void
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        init(chunks: Int, body: @escaping (Int) -> Void) {
            self.chunks = chunks
            self.body = body
        }

        /// Runs chunks until none are left.
        func work() {
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard c < chunks else { return }
                body(c)
                done.wrappingAdd(1, ordering: .releasing)
            }
        }
    }

    let workers: Int
    /// Idle spinning before a worker sleeps, and waiting before the caller starts yielding its core.
    private let spinNanoseconds: UInt64 = 100_000
    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let section = Mutex<Section?>(nil)
    /// Workers between reading `section` and dropping it (the caller waits for 0 before `body` goes away).
    private let holding = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)

    private init(workers: Int) {
        self.workers = workers
        for i in 0..<workers {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "hark-compute-\(i + 1)"
            thread.start()
        }
    }

    /// Runs `body(0..<chunks)` over the workers and the calling thread; false (nothing run) when the pool is
    /// busy or has no workers.
    func run(chunks: Int, _ body: (Int) -> Void) -> Bool {
        guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        withoutActuallyEscaping(body) { body in
            let s = Section(chunks: chunks, body: body)
            section.withLock { $0 = s }
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            let asleep = sleepers.load(ordering: .sequentiallyConsistent)
            for _ in 0..<min(asleep, chunks - 1) { wake.signal() }
            s.work()
            // A worker that holds a chunk may have lost its core (a loaded machine): yield ours after a while.
            let start = DispatchTime.now().uptimeNanoseconds
            var waits = 0
            while s.done.load(ordering: .acquiring) < chunks {
                waits += 1
                if waits & 63 == 0 && DispatchTime.now().uptimeNanoseconds - start > spinNanoseconds {
                    sched_yield()
                } else {
                    hark_cpu_relax()
                }
            }
            section.withLock { $0 = nil }
            while holding.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    private func loop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            var start = DispatchTime.now().uptimeNanoseconds
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 63 != 0 || DispatchTime.now().uptimeNanoseconds - start < spinNanoseconds {
                    hark_cpu_relax()
                    continue
                }
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                if generation.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                start = DispatchTime.now().uptimeNanoseconds
            }
            seen = generation.load(ordering: .acquiring)
            holding.wrappingAdd(1, ordering: .sequentiallyConsistent)
            workOnCurrent()
            holding.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// The current section's chunks, if any are left; its reference is dropped before this returns (the caller
    /// of `run` checks that no worker holds `body` once it is done).
    @inline(never)
    private func workOnCurrent() {
        section.withLock { $0 }?.work()
    }
}
