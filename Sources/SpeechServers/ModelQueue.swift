// ModelQueue: the bounded request queue in front of one model (issue 7, "Load and bad input"): one request runs,
// at most `depth` wait in order, one more is refused at once with `ServerError.busy` (HTTP 503 + Retry-After,
// Wyoming `error`), so a flood of clients costs memory bounded by the depth, never a growing backlog.
// A lock rather than an actor: a slot must be given back synchronously (from `deinit`, from a response writer that
// the client abandoned), and the critical sections are a few instructions.

import Synchronization

/// Admission to one model: one request at a time, a bounded line of waiters, refusal beyond it.
public final class ModelQueue: Sendable {
    private struct State {
        var isRunning = false
        /// Waiters in arrival order, by ticket, so that a cancelled waiter can leave the line.
        var waiters: [(ticket: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextTicket = 0
        var served = 0
        var refused = 0
    }

    /// What the queue serves (for logs and error messages).
    public let name: String
    /// Requests that may wait while another runs.
    public let depth: Int
    /// Seconds a refused client is told to wait.
    public let retryAfter: Int
    private let state = Mutex(State())

    public init(name: String, depth: Int, retryAfter: Int) {
        self.name = name
        self.depth = max(0, depth)
        self.retryAfter = max(1, retryAfter)
    }

    /// Requests running or waiting now.
    public var load: Int { state.withLock { ($0.isRunning ? 1 : 0) + $0.waiters.count } }
    /// Requests admitted and refused since start.
    public var counts: (served: Int, refused: Int) { state.withLock { ($0.served, $0.refused) } }

    /// Waits for the model; the slot must be released (it is when it goes away).
    /// - Throws: `ServerError.busy` at once when `depth` requests already wait; `CancellationError` when the task
    ///   is cancelled while it waits.
    public func acquire() async throws -> ModelSlot {
        let ticket: Int? = try state.withLock { s throws(ServerError) in
            if !s.isRunning {
                s.isRunning = true
                s.served += 1
                return nil
            }
            guard s.waiters.count < depth else {
                s.refused += 1
                throw .busy(retryAfter: retryAfter)
            }
            s.nextTicket += 1
            return s.nextTicket
        }
        if let ticket {
            let granted = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let cancelled = state.withLock { s in
                        if Task.isCancelled { return true }
                        s.waiters.append((ticket, continuation))
                        return false
                    }
                    if cancelled { continuation.resume(returning: false) }
                }
            } onCancel: {
                let waiter = state.withLock { s in
                    s.waiters.firstIndex { $0.ticket == ticket }.map { s.waiters.remove(at: $0).continuation }
                }
                waiter?.resume(returning: false)
            }
            guard granted else { throw CancellationError() }
        }
        return ModelSlot(queue: self)
    }

    /// Runs `body` once the model is free (see `acquire`).
    public func run<T>(_ body: () async throws -> T) async throws -> T {
        let slot = try await acquire()
        defer { slot.release() }
        return try await body()
    }

    /// Hands the model to the first waiter, or marks it free.
    fileprivate func release() {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard !s.waiters.isEmpty else {
                s.isRunning = false
                return nil
            }
            s.served += 1
            return s.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }
}

/// The right to use a model until released; released at the latest when it goes away.
public final class ModelSlot: Sendable {
    private let queue: ModelQueue
    private let isReleased = Atomic(false)

    fileprivate init(queue: ModelQueue) {
        self.queue = queue
    }

    /// Gives the model to the next request (once; later calls do nothing).
    public func release() {
        if !isReleased.exchange(true, ordering: .acquiringAndReleasing) { queue.release() }
    }

    deinit {
        release()
    }
}
