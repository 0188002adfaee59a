// Resampler: sample-rate conversion with libsoxr, one-shot for whole buffers and streaming for chunks.

import CSoxr

/// How hard libsoxr works. `.high` (soxr's `SOXR_HQ`: 20-bit precision, passband to 91 % of the lower Nyquist
/// rate) is right for speech and is the default.
public enum ResamplingQuality: Sendable, Hashable {
    /// Cubic interpolation (`SOXR_QQ`): fast, audibly imperfect.
    case quick
    /// 16-bit precision with a larger roll-off (`SOXR_LQ`).
    case low
    /// 16-bit precision (`SOXR_MQ`).
    case medium
    /// 20-bit precision (`SOXR_HQ`).
    case high
    /// 28-bit precision (`SOXR_VHQ`).
    case veryHigh

    var recipe: UInt {
        switch self {
        case .quick: UInt(SOXR_QQ)
        case .low: UInt(SOXR_LQ)
        case .medium: UInt(SOXR_MQ)
        case .high: UInt(SOXR_20_BITQ)
        case .veryHigh: UInt(SOXR_28_BITQ)
        }
    }
}

/// Converts float audio from one sample rate to another through libsoxr (interleaved, any channel count).
///
/// For a whole signal use `Resampler.resample(_:from:to:channelCount:quality:)` or `PCMBuffer.resampled(to:)`.
/// For a signal that arrives in chunks (a microphone, a voice speaking sentence by sentence) make one `Resampler`
/// per stream, `process(_:)` each chunk and `finish()` at the end. A `Resampler` is the only owner of its soxr
/// handle (it cannot be copied; the handle is freed when it goes away).
///
/// Lengths: a signal of `n` frames becomes `round(n * outputRate / inputRate)` frames (halves round up), whether
/// resampled at once or in chunks; the chunked output matches the one-shot output (identically, with libsoxr 0.1.3).
/// The output is aligned with the input (soxr compensates its filter delay). In streaming use, each chunk's output
/// lags behind its input by the filter delay, and `finish()` returns the tail.
public struct Resampler: ~Copyable {
    /// The soxr stream; freed in deinit.
    private let handle: OpaquePointer
    /// Input frames per second, Hz.
    public let inputRate: Int
    /// Output frames per second, Hz.
    public let outputRate: Int
    /// Samples per frame.
    public let channelCount: Int
    /// Output written by soxr before it is copied out; grown as needed.
    private var scratch: [Float] = []

    /// Makes a streaming resampler.
    /// - Throws: `AudioIOError` `.invalidArgument` for non-positive rates or channels, `.resamplingFailed` when soxr
    ///   refuses the configuration.
    public init(from inputRate: Int, to outputRate: Int, channelCount: Int = 1, quality: ResamplingQuality = .high)
        throws(AudioIOError)
    {
        try Self.validate(inputRate, outputRate, channelCount)
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var qualitySpec = soxr_quality_spec(quality.recipe, 0)
        var error: soxr_error_t?
        let handle = soxr_create(
            Double(inputRate), Double(outputRate), UInt32(channelCount), &error, &ioSpec, &qualitySpec, nil)
        guard let handle, error == nil else {
            if let handle { soxr_delete(handle) }
            throw Self.failure(error, inputRate, outputRate)
        }
        self.handle = handle
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channelCount = channelCount
    }

    deinit {
        soxr_delete(handle)
    }

    /// Resamples the next chunk of the stream: interleaved samples in, interleaved samples out.
    ///
    /// The output is whatever soxr can produce so far; it may be empty for the first small chunks.
    /// - Precondition: `samples.count` is a multiple of `channelCount`.
    /// - Throws: `AudioIOError` `.resamplingFailed`.
    public mutating func process(_ samples: [Float]) throws(AudioIOError) -> [Float] {
        precondition(samples.count % channelCount == 0, "\(samples.count) samples do not fill \(channelCount) channels")
        if samples.isEmpty { return [] }
        return try samples.withUnsafeBufferPointer { input in
            Result { () throws(AudioIOError) in try run(input: input) }
        }.get()
    }

    /// Ends the stream: returns the output still held in the filter, then frees the resampler.
    /// - Throws: `AudioIOError` `.resamplingFailed`.
    public consuming func finish() throws(AudioIOError) -> [Float] {
        try run(input: nil)
    }

    /// Feeds `input` (nil: end of input) and collects all output soxr can give.
    private mutating func run(input: UnsafeBufferPointer<Float>?) throws(AudioIOError) -> [Float] {
        let inputFrames = (input?.count ?? 0) / channelCount
        let ratio = Double(outputRate) / Double(inputRate)
        let capacity = max(1024, Int((Double(inputFrames) * ratio).rounded(.up)) + 64)
        if scratch.count < capacity * channelCount {
            scratch = [Float](repeating: 0, count: capacity * channelCount)
        }
        var output: [Float] = []
        output.reserveCapacity(capacity * channelCount)
        var consumed = 0
        while true {
            var used = 0
            var produced = 0
            let error = scratch.withUnsafeMutableBufferPointer { out in
                if let input {
                    soxr_process(
                        handle, input.baseAddress! + consumed * channelCount, inputFrames - consumed, &used,
                        out.baseAddress, capacity, &produced)
                } else {
                    soxr_process(handle, nil, 0, nil, out.baseAddress, capacity, &produced)
                }
            }
            if let error { throw Self.failure(error, inputRate, outputRate) }
            output.append(contentsOf: scratch[0..<(produced * channelCount)])
            consumed += used
            if consumed < inputFrames, used == 0, produced == 0 {
                throw AudioIOError(.resamplingFailed, "libsoxr took no input and gave no output")
            }
            // Done once soxr has taken all input and had room to spare for output.
            if consumed >= inputFrames, produced < capacity { return output }
        }
    }

    // MARK: One-shot

    /// Resamples a whole signal at once: `round(n * outputRate / inputRate)` frames out for `n` in (halves round up).
    /// - Parameter samples: interleaved, `channelCount` per frame.
    /// - Throws: `AudioIOError` `.invalidArgument` or `.resamplingFailed`.
    public static func resample(
        _ samples: [Float], from inputRate: Int, to outputRate: Int, channelCount: Int = 1,
        quality: ResamplingQuality = .high
    ) throws(AudioIOError) -> [Float] {
        try validate(inputRate, outputRate, channelCount)
        guard samples.count % channelCount == 0 else {
            throw .invalid("\(samples.count) samples do not fill \(channelCount) channels")
        }
        if inputRate == outputRate || samples.isEmpty { return samples }
        let inputFrames = samples.count / channelCount
        let outputFrames = Int((Double(inputFrames) * Double(outputRate) / Double(inputRate)).rounded())
        // One spare frame, so a rounding difference with soxr's own count shows up as a length mismatch.
        var output = [Float](repeating: 0, count: (outputFrames + 1) * channelCount)
        var produced = 0
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var qualitySpec = soxr_quality_spec(quality.recipe, 0)
        let error = samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                soxr_oneshot(
                    Double(inputRate), Double(outputRate), UInt32(channelCount), input.baseAddress, inputFrames, nil,
                    out.baseAddress, outputFrames + 1, &produced, &ioSpec, &qualitySpec, nil)
            }
        }
        if let error { throw failure(error, inputRate, outputRate) }
        output.removeSubrange((produced * channelCount)...)
        return output
    }

    private static func validate(_ inputRate: Int, _ outputRate: Int, _ channelCount: Int) throws(AudioIOError) {
        guard inputRate > 0, outputRate > 0 else {
            throw .invalid("cannot resample from \(inputRate) Hz to \(outputRate) Hz: rates must be positive")
        }
        guard channelCount > 0 else { throw .invalid("cannot resample \(channelCount) channels") }
    }

    private static func failure(_ error: soxr_error_t?, _ inputRate: Int, _ outputRate: Int) -> AudioIOError {
        AudioIOError(
            .resamplingFailed, "cannot resample from \(inputRate) Hz to \(outputRate) Hz",
            detail: error.map { String(cString: $0) })
    }
}

/// A noncopyable `Resampler` has exactly one owner, so moving it to another task is safe; the soxr handle has no
/// thread affinity.
extension Resampler: @unchecked Sendable {}

extension PCMBuffer {
    /// This audio at `sampleRate` Hz (itself when it already is), through libsoxr.
    /// - Throws: `AudioIOError` `.invalidArgument` or `.resamplingFailed`.
    public func resampled(to sampleRate: Int, quality: ResamplingQuality = .high) throws(AudioIOError) -> PCMBuffer {
        if sampleRate == self.sampleRate { return self }
        let output = try Resampler.resample(
            samples, from: self.sampleRate, to: sampleRate, channelCount: channelCount, quality: quality)
        return PCMBuffer(samples: output, sampleRate: sampleRate, channelCount: channelCount)
    }
}
