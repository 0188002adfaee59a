// StageThread: a serial executor backed by one dedicated thread, so a pipeline stage's long synchronous compute
// never occupies a thread of Swift's cooperative pool (the same design as AudioIO's DeviceThread).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs the jobs of one actor, one at a time and in order, on a thread of its own.
///
/// A Piper stage computes for tens to hundreds of milliseconds per call without suspending. Swift's cooperative
/// pool has one thread per core; two stages computing there at once would leave nothing for the tasks that feed a
/// sound device or a socket on a two-core board. Each stage actor therefore runs on a `StageThread` (its
/// `unownedExecutor`), and the operating system shares the cores between the stages and everything else. The
/// thread sleeps on a condition variable while there is no job, and ends after `shutDown()` once its queue is empty.
final class StageThread: SerialExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `isShuttingDown` are guarded by `mutex`; `thread` is written once, in init, before
    // the object is shared.

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    private var isShuttingDown = false
    private var thread = pthread_t()

    /// Starts the thread.
    /// - Parameter name: what the error calls the stage.
    /// - Throws: `PiperError` `.computeFailed` when the system cannot start another thread.
    init(name: String) throws(PiperError) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        // The thread holds a reference to its executor until it ends.
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let executor = Unmanaged<StageThread>.fromOpaque(context!).takeRetainedValue()
                executor.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<StageThread>.fromOpaque(context).release()
            throw PiperError(
                .computeFailed, "cannot start a thread for the \(name) stage: \(String(cString: strerror(result)))")
        }
        pthread_detach(thread)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    func checkIsolated() {
        precondition(pthread_equal(pthread_self(), thread) != 0, "not on the stage's thread")
    }

    /// Lets the thread end once the jobs already queued have run.
    func shutDown() {
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
