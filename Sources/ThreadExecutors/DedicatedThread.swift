// DedicatedThread: a serial executor backed by one thread of its own, for actors whose work blocks (ALSA I/O) or
// computes for long stretches without suspending (a TTS pipeline stage).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs the jobs of one actor, one at a time and in order, on a thread of its own.
///
/// Swift's cooperative pool has one thread per core. An actor that blocks in a system call (ALSA's
/// `snd_pcm_writei`/`readi`/`drain` wait for the device) or computes for hundreds of milliseconds without
/// suspending (a Piper stage) would starve every other task on a two-core board; such an actor makes a
/// `DedicatedThread` its `unownedExecutor`, and the operating system shares the cores. The thread sleeps on a
/// condition variable while there is no job, and ends after `shutDown()` once its queue is empty.
public final class DedicatedThread: SerialExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `isShuttingDown` are guarded by `mutex`; `thread` is written once, in init, before
    // the object is shared.

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    private var isShuttingDown = false
    private var thread = pthread_t()

    /// Why a thread could not be started: the `pthread_create` error code and its text.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public let code: Int32
        public var description: String { String(cString: strerror(code)) }
    }

    /// What `checkIsolated` calls the thread when it fails.
    private let name: String

    /// Starts the thread.
    /// - Parameter name: what the thread serves, for diagnostics ("sound device", "decoder stage").
    /// - Throws: `StartError` when the system cannot start another thread.
    public init(name: String) throws(StartError) {
        self.name = name
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        // The thread holds a reference to its executor until it ends.
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let executor = Unmanaged<DedicatedThread>.fromOpaque(context!).takeRetainedValue()
                executor.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<DedicatedThread>.fromOpaque(context).release()
            throw StartError(code: result)
        }
        pthread_detach(thread)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    public func checkIsolated() {
        precondition(pthread_equal(pthread_self(), thread) != 0, "not on the \(name) thread")
    }

    /// Lets the thread end once the jobs already queued have run.
    public func shutDown() {
        pthread_mutex_lock(mutex)
        isShuttingDown = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The thread's body: waits for jobs and runs them, until shut down with an empty queue.
    private func run() {
        let executor = asUnownedSerialExecutor()
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty, !isShuttingDown { pthread_cond_wait(condition, mutex) }
            if jobs.isEmpty {
                pthread_mutex_unlock(mutex)
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            pthread_mutex_unlock(mutex)
            for job in batch { job.runSynchronously(on: executor) }
        }
    }
}
