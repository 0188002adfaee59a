// The stages that own a resource each: the Whisper model (TranscriptionStage, on a thread of its own because a
// transcription computes for a long while) and the playback device with its resampler (Speaker).

import AudioIO
import Foundation
import Logging
import ThreadExecutors
import WhisperSTT

/// Transcribes utterances with one Whisper model, on a thread of its own so that the seconds of compute never
/// occupy a thread of Swift's cooperative pool (where capture and voice activity detection must keep running).
public actor TranscriptionStage {
    private let thread: DedicatedThread
    /// The model, which others may share (a transcriber keeps no state between calls).
    public nonisolated let transcriber: WhisperTranscriber
    private let options: TranscriptionOptions

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// A stage running `transcriber` with `options`.
    /// - Throws: `PipelineError` `.modelUnavailable` when the thread cannot start.
    public init(transcriber: WhisperTranscriber, options: TranscriptionOptions = TranscriptionStage.defaultOptions)
        throws(PipelineError)
    {
        do {
            thread = try DedicatedThread(name: "whisper")
        } catch {
            throw PipelineError(.modelUnavailable, "cannot start the transcription thread: \(error)")
        }
        self.transcriber = transcriber
        self.options = options
    }

    deinit {
        thread.shutDown()
    }

    /// Utterances are short and already cut by the endpointer: no timestamps (faster), and the transcriber's own
    /// voice-activity gate stays on so noise that fooled the endpointer gives no words rather than a hallucination.
    public static var defaultOptions: TranscriptionOptions {
        var options = TranscriptionOptions()
        options.withoutTimestamps = true
        options.conditionOnPreviousText = false
        return options
    }

    /// The text of `samples` (16 kHz mono), trimmed; "" when there are no words.
    /// - Throws: `CancellationError` when the calling task was cancelled before the transcription began (a
    ///   transcription started ahead of time that turned out stale does not hold up the next one).
    public func transcribe(_ samples: [Float]) throws -> String {
        try Task.checkCancellation()
        return try transcriber.transcribe(samples, options: options).map(\.text).joined()
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The playback device and the resampler in front of it: takes audio at the voice's rate and plays it at the rate
/// the device accepted.
public actor Speaker {
    private let playback: ALSAPlayback
    private var resampler: Resampler?
    /// The rate audio is given in, Hz.
    public nonisolated let sourceRate: Int
    /// The rate the device plays, Hz.
    public nonisolated var deviceRate: Int { playback.sampleRate }
    /// The device's period in frames (the unit of writes, and of a stop's latency).
    public nonisolated var periodFrames: Int { playback.periodFrames }

    /// Opens the playback device for audio at `sourceRate`.
    /// - Throws: `AudioIOError` when the device cannot be opened.
    public init(device: String, sourceRate: Int, configuration: ALSAConfiguration? = nil) throws(AudioIOError) {
        // 20 ms periods, 4 of them: a stop drops at most 80 ms that were queued, and cuts within one period.
        playback = try ALSAPlayback(
            device: device, sampleRate: sourceRate, periodDuration: .milliseconds(20), periodCount: 4,
            configuration: configuration)
        self.sourceRate = sourceRate
        if playback.sampleRate != sourceRate {
            resampler = try Resampler(from: sourceRate, to: playback.sampleRate)
        }
    }

    /// Converts samples at `sourceRate` to the device's rate (through the resampler's state).
    public func convert(_ samples: [Float]) throws(AudioIOError) -> [Float] {
        guard resampler != nil else { return samples }
        return try resampler!.process(samples)
    }

    /// Plays samples already at the device's rate; returns once the device took them (or was stopped).
    public func play(deviceSamples samples: [Float]) async throws(AudioIOError) {
        try await playback.write(samples)
    }

    /// Plays out what is queued (and the resampler's tail) and gets ready for the next reply.
    public func finish() async throws(AudioIOError) {
        if let tail = try resampler.take()?.finish(), !tail.isEmpty { try await playback.write(tail) }
        try resetResampler()
        try await playback.drain()
    }

    /// Stops at once, dropping what is queued (barge-in).
    public func interrupt() async {
        do {
            try await playback.stop()
            try resetResampler()
        } catch {
            Logger(label: "hark.speaker").error("stopping playback: \(error)")
        }
    }

    /// Closes the device.
    public func close() async {
        await playback.close()
    }

    private func resetResampler() throws(AudioIOError) {
        if playback.sampleRate != sourceRate { resampler = try Resampler(from: sourceRate, to: playback.sampleRate) }
    }
}
