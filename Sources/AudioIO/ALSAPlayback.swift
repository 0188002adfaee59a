// ALSAPlayback: plays float samples on an ALSA device; the actor is the device's only owner.

import ThreadExecutors

/// Plays audio on one ALSA playback device, as signed 16-bit samples.
///
/// The actor owns the device (one `snd_pcm_t`) and runs on a thread of its own: ALSA's writes block until the
/// device has room, and that waiting never occupies a thread of Swift's cooperative pool. Writes go to the device
/// one period (about 20 ms) at a time, and between periods other calls get their turn, so `stop()` interrupts a
/// long `write(_:)` within a period: that is how barge-in cuts a voice off.
///
/// Underruns (the device ran dry) are recovered, logged as warnings and counted in `xrunCount`; any other ALSA
/// failure is an `AudioIOError`.
///
/// ```swift
/// let speaker = try ALSAPlayback(sampleRate: 22_050)
/// try await speaker.write(samples)
/// try await speaker.drain()
/// ```
public actor ALSAPlayback {
    /// The thread every isolated method runs on.
    private let thread: DedicatedThread
    /// The device; nil once closed.
    private var device: PCMDevice?
    /// Scratch for the 16-bit samples of one period.
    private var period: [Int16]
    /// Bumped by `stop()` and `close()`, so a `write` in progress sees that it was cut off.
    private var interruptions = 0

    /// The ALSA device name.
    public nonisolated let deviceName: String
    /// The rate the device accepted, Hz: write samples at this rate (resample to it when it differs from yours).
    public nonisolated let sampleRate: Int
    /// Samples per frame.
    public nonisolated let channelCount: Int
    /// Frames per period, as the device accepted it.
    public nonisolated let periodFrames: Int
    /// Frames the device buffers; playback starts once it is full (or at `drain()`).
    public nonisolated let bufferFrames: Int

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Opens an ALSA device for playback.
    /// - Parameters:
    ///   - device: the ALSA device name (`default`, `plughw:1,0`, a name defined in `configuration`).
    ///   - sampleRate: the rate you want, Hz; the device may pick the nearest it supports (see `sampleRate`).
    ///   - channelCount: samples per frame.
    ///   - periodDuration: how much audio one period holds (the unit of writes and of `stop()`'s latency).
    ///   - periodCount: periods in the device's buffer (its latency is `periodCount * periodDuration`).
    ///   - configuration: extra ALSA configuration for this device only (e.g. `.filePlayback(to:)`).
    /// - Throws: `AudioIOError` `.noSoundDevice` when the device does not exist (or there is no sound card),
    ///   `.deviceBusy`, `.unsupportedDeviceSetting`, `.deviceFailure`.
    public init(
        device: String = "default", sampleRate: Int, channelCount: Int = 1,
        periodDuration: Duration = .milliseconds(20), periodCount: Int = 4, configuration: ALSAConfiguration? = nil
    ) throws(AudioIOError) {
        let pcm = try PCMDevice(
            PCMRequest(
                device: device, direction: .playback, sampleRate: sampleRate, channelCount: channelCount,
                periodDuration: periodDuration, periodCount: periodCount, configuration: configuration))
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
        period = [Int16](repeating: 0, count: pcm.periodFrames * pcm.channelCount)
    }

    deinit {
        thread.shutDown()
    }

    /// Underruns and suspends recovered so far.
    public var xrunCount: Int { device?.xrunCount ?? 0 }

    /// Queues interleaved samples for playing (floats in [-1, 1], clipped to 16 bits), returning once the device
    /// has taken them all, or earlier when cut off.
    ///
    /// The first `bufferFrames` frames only fill the buffer; playback starts once it is full, or at `drain()`.
    /// A `stop()` or `close()` while this runs, or cancelling the calling task, discards the samples not yet
    /// written (cancelling also drops those queued, like `stop()`).
    /// - Precondition: `samples.count` is a multiple of `channelCount`.
    /// - Throws: `AudioIOError` `.deviceUnavailable` once closed, `.deviceFailure` when ALSA fails.
    public func write(_ samples: [Float]) async throws(AudioIOError) {
        precondition(samples.count % channelCount == 0, "\(samples.count) samples do not fill \(channelCount) channels")
        guard device != nil else { throw closed() }
        let start = interruptions
        var offset = 0
        while offset < samples.count {
            guard let device, interruptions == start else { return }
            if Task.isCancelled {
                try stop()
                return
            }
            let count = min(period.count, samples.count - offset)
            for i in 0..<count { period[i] = SampleConversion.int16(samples[offset + i]) }
            try period.withUnsafeBufferPointer { chunk in
                Result { () throws(AudioIOError) in try device.write(UnsafeBufferPointer(rebasing: chunk[..<count])) }
            }.get()
            offset += count
            // Lets `stop()`, `close()` and other callers in between two periods.
            await Task.yield()
        }
    }

    /// Blocks until everything written has been played (starting playback if the buffer never filled).
    /// - Throws: `AudioIOError` `.deviceUnavailable` once closed, `.deviceFailure` when ALSA fails.
    public func drain() throws(AudioIOError) {
        guard let device else { throw closed() }
        try device.drain()
    }

    /// Stops at once, dropping what is queued (barge-in); the device stays open and takes new writes.
    /// - Throws: `AudioIOError` `.deviceFailure` when ALSA fails.
    public func stop() throws(AudioIOError) {
        interruptions += 1
        try device?.drop()
    }

    /// Closes the device, dropping what is queued. Later calls throw `.deviceUnavailable`; closing twice does nothing.
    /// (The device is also closed when the actor goes away.)
    public func close() {
        interruptions += 1
        device = nil
    }

    private func closed() -> AudioIOError {
        AudioIOError(.deviceUnavailable, "sound device '\(deviceName)' is closed", subject: deviceName)
    }
}
