import Testing

@testable import PiperTTS

/// The queue between the pipeline's stages: order, end, errors, back-pressure and cancellation.
@Suite("Bounded channel")
struct BoundedChannelTests {
    struct Failure: Error, Equatable {}

    @Test("elements arrive in order across a small queue, then nil")
    func order() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        let producer = Task {
            for i in 0..<100 { try await channel.send(i) }
            channel.finish()
        }
        var received: [Int] = []
        while let i = try await channel.next() { received.append(i) }
        try await producer.value
        #expect(received == Array(0..<100))
        #expect(try await channel.next() == nil)
    }

    @Test("a full queue holds its sender until the receiver takes an element")
    func backPressure() async throws {
        let channel = BoundedChannel<Int>(capacity: 1)
        try await channel.send(1)  // fills the queue
        let second = Task { try await channel.send(2) }
        #expect(try await channel.next() == 1)
        try await second.value  // returns only once 2 is queued
        #expect(try await channel.next() == 2)
    }

    @Test("the producer's error comes after the elements queued before it, once")
    func error() async throws {
        let channel = BoundedChannel<Int>(capacity: 4)
        try await channel.send(1)
        channel.finish(throwing: Failure())
        #expect(try await channel.next() == 1)
        await #expect(throws: Failure.self) { _ = try await channel.next() }
        #expect(try await channel.next() == nil)
    }

    @Test("cancelling the queue wakes a waiting sender and receiver with CancellationError")
    func cancel() async throws {
        let full = BoundedChannel<Int>(capacity: 1)
        try await full.send(0)
        let sender = Task { try await full.send(1) }
        full.cancel()
        await #expect(throws: CancellationError.self) { try await sender.value }
        await #expect(throws: CancellationError.self) { _ = try await full.next() }

        let empty = BoundedChannel<Int>(capacity: 1)
        let receiver = Task { try await empty.next() }
        receiver.cancel()
        await #expect(throws: CancellationError.self) { _ = try await receiver.value }
        await #expect(throws: CancellationError.self) { try await empty.send(1) }
    }
}
