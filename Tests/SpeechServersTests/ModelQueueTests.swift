// The bounded model queue (issue 7, "Load and bad input"): one runs, `depth` wait, the next is refused with busy.

import Testing

@testable import SpeechServers

@Suite("Model queue")
struct ModelQueueTests {
    @Test("one runs, depth wait in order, one more is refused at once with busy")
    func bounded() async throws {
        let queue = ModelQueue(name: "m", depth: 2, retryAfter: 4)
        let first = try await queue.acquire()
        let waiters = (0..<2).map { _ in Task { try await queue.acquire() } }
        while queue.load < 3 { await Task.yield() }
        await #expect(throws: ServerError.busy(retryAfter: 4)) { _ = try await queue.acquire() }
        first.release()
        let second = try await waiters[0].value
        #expect(queue.load == 2)
        second.release()
        try await waiters[1].value.release()
        #expect(queue.load == 0)
        #expect(queue.counts.served == 3 && queue.counts.refused == 1)
    }

    @Test("a cancelled waiter leaves the line; a dropped slot is given back")
    func cancellation() async throws {
        let queue = ModelQueue(name: "m", depth: 1, retryAfter: 1)
        var slot: ModelSlot? = try await queue.acquire()
        let waiter = Task { try await queue.acquire() }
        while queue.load < 2 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(queue.load == 1)
        _ = slot
        slot = nil  // released by deinit
        #expect(queue.load == 0)
    }
}
