// ALSACapture: records from an ALSA device as an async stream of fixed-size chunks; the actor is the device's
// only owner.

import ThreadExecutors

/// Records audio from one ALSA capture device, as signed 16-bit samples delivered as float `PCMBuffer`s.
///
/// The actor owns the device (one `snd_pcm_t`) and runs on a thread of its own, so ALSA's blocking reads never
/// occupy a thread of Swift's cooperative pool. `chunks(...)` starts recording and returns an
/// `AsyncThrowingStream` of fixed-size chunks; recording stops when the consumer stops iterating (or its task is
/// cancelled), when `totalFrames` have been delivered, at `stop()` or `close()`. One recording runs at a time:
/// starting one ends the one running (its stream finishes) before it begins.
///
/// Overruns (chunks not read in time by this actor) are recovered, logged as warnings and counted in `xrunCount`;
/// the audio then has a gap. A consumer slower than the device loses chunks according to the stream's buffering
/// policy (by default the oldest are dropped beyond about one second).
///
/// ```swift
/// let microphone = try ALSACapture(sampleRate: 16_000)
/// for try await chunk in microphone.chunks() { vad.feed(chunk.samples) }
/// ```
public actor ALSACapture {
    /// The thread every isolated method runs on.
    private let thread: DedicatedThread
    /// The device; nil once closed.
    private var device: PCMDevice?
    /// Whether a recording is running.
    private var isRecording = false
    /// Recordings waiting for the running one to end.
    private var waitingRecordings: [CheckedContinuation<Void, Never>] = []
    /// Bumped by `stop()` and `close()`, so the recording in progress ends.
    private var interruptions = 0

    /// The ALSA device name.
    public nonisolated let deviceName: String
    /// The rate the device accepted, Hz (resample when it is not the rate you need).
    public nonisolated let sampleRate: Int
    /// Samples per frame.
    public nonisolated let channelCount: Int
    /// Frames per period, as the device accepted it; the default chunk size.
    public nonisolated let periodFrames: Int
    /// Frames the device buffers before it overruns.
    public nonisolated let bufferFrames: Int

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Opens an ALSA device for capture.
    /// - Parameters:
    ///   - device: the ALSA device name (`default`, `plughw:1,0`, a name defined in `configuration`).
    ///   - sampleRate: the rate you want, Hz; the device may pick the nearest it supports (see `sampleRate`).
    ///   - channelCount: samples per frame.
    ///   - periodDuration: how much audio one period holds (~20 ms suits voice activity detection).
    ///   - periodCount: periods in the device's buffer: how long the reader may fall behind before an overrun.
    ///   - configuration: extra ALSA configuration for this device only (e.g. `.fileCapture(from:)`).
    ///   - faults: overruns to report on purpose (tests of the recovery path; none by default).
    /// - Throws: `AudioIOError` `.noSoundDevice` when the device does not exist (or there is no sound card),
    ///   `.deviceBusy`, `.unsupportedDeviceSetting`, `.deviceFailure`.
    public init(
        device: String = "default", sampleRate: Int = 16_000, channelCount: Int = 1,
        periodDuration: Duration = .milliseconds(20), periodCount: Int = 8, configuration: ALSAConfiguration? = nil,
        faults: InjectedFaults = .none
    ) throws(AudioIOError) {
        let pcm = try PCMDevice(
            PCMRequest(
                device: device, direction: .capture, sampleRate: sampleRate, channelCount: channelCount,
                periodDuration: periodDuration, periodCount: periodCount, configuration: configuration,
                faults: faults))
        do {
            thread = try DedicatedThread(name: "sound device")
        } catch {
            throw AudioIOError(.deviceFailure, "cannot start a thread for sound device I/O", detail: error.description)
        }
        self.device = pcm
        deviceName = device
        self.sampleRate = pcm.sampleRate
        self.channelCount = pcm.channelCount
        periodFrames = pcm.periodFrames
        bufferFrames = pcm.bufferFrames
    }

    deinit {
        thread.shutDown()
    }

    /// Overruns and suspends recovered so far.
    public var xrunCount: Int { device?.xrunCount ?? 0 }

    /// Starts recording and returns the audio as chunks of `chunkFrames` frames (the last one shorter when
    /// `totalFrames` is not a multiple of it).
    ///
    /// The stream finishes after `totalFrames` frames, when `stop()` or `close()` is called, or when a newer
    /// recording starts; it finishes with an `AudioIOError` when the device fails (`.deviceUnavailable` once
    /// closed). Dropping the stream or cancelling the consuming task stops the recording.
    /// - Parameters:
    ///   - chunkFrames: frames per chunk; nil means one period.
    ///   - totalFrames: stop after this many frames (e.g. a fixed-length recording, or a test reading a file of known
    ///     length: ALSA's `file` device keeps delivering, as silence here, past the end of its file); nil records
    ///     until stopped.
    ///   - bufferingPolicy: what happens to chunks the consumer has not taken yet; the default keeps the newest
    ///     50 (one second at 20 ms). `.unbounded` loses nothing, for consumers that keep up on average.
    public nonisolated func chunks(
        chunkFrames: Int? = nil, totalFrames: Int? = nil,
        bufferingPolicy: AsyncThrowingStream<PCMBuffer, any Error>.Continuation.BufferingPolicy = .bufferingNewest(50)
    ) -> AsyncThrowingStream<PCMBuffer, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: PCMBuffer.self, throwing: (any Error).self, bufferingPolicy: bufferingPolicy)
        let frames = chunkFrames ?? periodFrames
        precondition(frames > 0, "a chunk needs at least one frame")
        let recording = Task { await self.record(into: continuation, chunkFrames: frames, totalFrames: totalFrames) }
        continuation.onTermination = { _ in recording.cancel() }
        return stream
    }

    /// Stops the recording in progress (its stream finishes); the device stays open for the next one.
    public func stop() {
        interruptions += 1
    }

    /// Closes the device, ending any recording. Later recordings finish with `.deviceUnavailable`; closing twice
    /// does nothing. (The device is also closed when the actor goes away.)
    public func close() {
        interruptions += 1
        device = nil
    }

    /// The recording loop: reads chunk after chunk until told to stop, yielding each to the stream.
    private func record(
        into continuation: AsyncThrowingStream<PCMBuffer, any Error>.Continuation, chunkFrames: Int,
        totalFrames: Int?
    ) async {
        // A newer recording ends the running one, which ends within a chunk.
        while isRecording {
            interruptions += 1
            await withCheckedContinuation { waitingRecordings.append($0) }
        }
        guard let device else {
            continuation.finish(throwing: unavailable("is closed"))
            return
        }
        isRecording = true
        defer {
            isRecording = false
            let waiting = waitingRecordings
            waitingRecordings = []
            for recording in waiting { recording.resume() }
        }
        let start = interruptions
        var remaining = totalFrames ?? .max
        let chunk = UnsafeMutableBufferPointer<Int16>.allocate(capacity: chunkFrames * channelCount)
        defer { chunk.deallocate() }
        do {
            while remaining > 0, interruptions == start, !Task.isCancelled {
                let frames = min(chunkFrames, remaining)
                let samples = UnsafeMutableBufferPointer(rebasing: chunk[..<(frames * channelCount)])
                try device.read(into: samples)
                remaining -= frames
                continuation.yield(
                    PCMBuffer(
                        samples: SampleConversion.float(UnsafeBufferPointer(samples)), sampleRate: sampleRate,
                        channelCount: channelCount))
                // Lets `stop()`, `close()` and other callers in between two chunks.
                await Task.yield()
            }
            // Stop the device so that it does not overrun while nobody reads (unless close() already closed it).
            if self.device != nil { try device.drop() }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }

    private func unavailable(_ state: String) -> AudioIOError {
        AudioIOError(.deviceUnavailable, "sound device '\(deviceName)' \(state)", subject: deviceName)
    }
}
