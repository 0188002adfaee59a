// BoundedChannel: the queue between two pipeline stages: fixed capacity, back-pressure, cancellation, no polling.

import Synchronization

/// A queue of at most `capacity` elements from one producing task to one consuming task.
///
/// `send(_:)` suspends while the queue is full and `next()` while it is empty, so two stages run concurrently but
/// never more than `capacity` elements apart, and neither side polls. The producer ends the queue with `finish()` or
/// `finish(throwing:)`: the consumer takes what is queued, then gets nil or the error. `cancel()` ends the queue at
/// once for both sides, dropping what is queued; cancelling a task that waits in `send(_:)` or `next()` does the
/// same (each waiting side then throws `CancellationError`).
///
/// - Important: One task sends and one task receives; a second concurrent sender or receiver is a programming error.
final class BoundedChannel<Element: Sendable>: Sendable {
    private struct State {
        /// Elements queued, oldest first (at most `capacity`).
        var buffer: [Element] = []
        /// The element of a sender waiting for room, and the sender.
        var pending: (element: Element, sender: CheckedContinuation<Void, any Error>)?
        /// The consumer waiting for an element.
        var receiver: CheckedContinuation<Element?, any Error>?
        /// How the producer ended the queue, once it has.
        var end: Result<Void, any Error>?
        /// Whether the queue was cancelled.
        var isCancelled = false
    }

    /// What `send(_:)` does once it has looked at the state: resume the waiting receiver (or none) and itself, fail,
    /// or wait for room.
    private enum SendAction {
        case resume(CheckedContinuation<Element?, any Error>?)
        case fail
        case wait
    }

    /// What `next()` does once it has looked at the state.
    private enum ReceiveAction {
        case take(Element, sender: CheckedContinuation<Void, any Error>?)
        case end(Result<Void, any Error>)
        case fail
        case wait
    }

    /// The most elements queued at once.
    let capacity: Int
    private let state = Mutex(State())

    /// An empty queue holding at most `capacity` elements (at least one).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues `element`, first waiting for room while the queue is full.
    /// - Throws: `CancellationError` when the queue is (or gets) cancelled, or the sending task is cancelled.
    func send(_ element: Element) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (sender: CheckedContinuation<Void, any Error>) in
                let action = state.withLock { state -> SendAction in
                    if state.isCancelled { return .fail }
                    precondition(state.end == nil && state.pending == nil, "one sender, and none after finish")
                    if let receiver = state.receiver {
                        state.receiver = nil
                        return .resume(receiver)
                    }
                    if state.buffer.count < capacity {
                        state.buffer.append(element)
                        return .resume(nil)
                    }
                    state.pending = (element, sender)
                    return .wait
                }
                switch action {
                case .resume(let receiver):
                    receiver?.resume(returning: element)
                    sender.resume()
                case .fail:
                    sender.resume(throwing: CancellationError())
                case .wait:
                    break
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The next element, waiting for one while the queue is empty; nil once the producer has finished and the queue
    /// is empty.
    /// - Throws: the producer's error after the elements queued before it, once; `CancellationError` when the queue
    ///   is (or gets) cancelled, or the receiving task is cancelled.
    func next() async throws -> Element? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (receiver: CheckedContinuation<Element?, any Error>) in
                let action = state.withLock { state -> ReceiveAction in
                    if state.isCancelled { return .fail }
                    precondition(state.receiver == nil, "one receiver at a time")
                    if !state.buffer.isEmpty {
                        let element = state.buffer.removeFirst()
                        guard let pending = state.pending else { return .take(element, sender: nil) }
                        state.buffer.append(pending.element)
                        state.pending = nil
                        return .take(element, sender: pending.sender)
                    }
                    if let end = state.end {
                        state.end = .success(())  // an error is delivered once, then the queue is simply over
                        return .end(end)
                    }
                    state.receiver = receiver
                    return .wait
                }
                switch action {
                case .take(let element, let sender):
                    sender?.resume()
                    receiver.resume(returning: element)
                case .end(.success):
                    receiver.resume(returning: nil)
                case .end(.failure(let error)):
                    receiver.resume(throwing: error)
                case .fail:
                    receiver.resume(throwing: CancellationError())
                case .wait:
                    break
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Ends the queue: the consumer takes what is queued, then gets nil (or `error`). Ignored once cancelled or
    /// finished.
    func finish(throwing error: (any Error)? = nil) {
        let receiver = state.withLock { state -> CheckedContinuation<Element?, any Error>? in
            guard !state.isCancelled, state.end == nil else { return nil }
            state.end = error.map { .failure($0) } ?? .success(())
            guard let receiver = state.receiver else { return nil }
            // A receiver only waits on an empty queue.
            state.receiver = nil
            state.end = .success(())
            return receiver
        }
        if let error {
            receiver?.resume(throwing: error)
        } else {
            receiver?.resume(returning: nil)
        }
    }

    /// Ends the queue at once for both sides, dropping what is queued: a waiting sender and receiver throw
    /// `CancellationError`, and so does every later `send(_:)` and `next()`.
    func cancel() {
        let (sender, receiver) = state.withLock { state in
            guard !state.isCancelled else {
                return (CheckedContinuation<Void, any Error>?.none, CheckedContinuation<Element?, any Error>?.none)
            }
            state.isCancelled = true
            state.buffer.removeAll()
            defer {
                state.pending = nil
                state.receiver = nil
            }
            return (state.pending?.sender, state.receiver)
        }
        sender?.resume(throwing: CancellationError())
        receiver?.resume(throwing: CancellationError())
    }
}
