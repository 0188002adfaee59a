// PCMDevice: the one owner of an ALSA `snd_pcm_t`; every ALSA call goes through its `check` helper.

import CALSA
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Playback or capture.
enum PCMDirection: Sendable {
    case playback
    case capture

    var stream: snd_pcm_stream_t { self == .playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE }
    var noun: String { self == .playback ? "playback" : "capture" }
}

/// What a caller asks of a device; the device may round rate, period and buffer to what it supports.
struct PCMRequest: Sendable {
    var device: String
    var direction: PCMDirection
    var sampleRate: Int
    var channelCount: Int
    var periodDuration: Duration
    var periodCount: Int
    var configuration: ALSAConfiguration?
    var faults: InjectedFaults = .none
}

/// An open ALSA PCM in signed 16-bit little-endian interleaved mode: the only owner of its `snd_pcm_t`, closed in
/// deinit. Not thread-safe: it belongs to one actor (`ALSAPlayback`, `ALSACapture`), which calls it from its thread.
///
/// Every ALSA call goes through `check`, which turns a negative return code into an `AudioIOError` carrying
/// `snd_strerror`'s text; over- and underruns (`-EPIPE`), suspends (`-ESTRPIPE`) and interrupted calls (`-EINTR`)
/// are recovered with `snd_pcm_recover` and counted, not thrown.
final class PCMDevice {
    private let handle: OpaquePointer
    /// The ALSA device name it was opened with.
    let name: String
    let direction: PCMDirection
    /// Frames per second the device accepted (may differ from the request on hardware without resampling).
    let sampleRate: Int
    let channelCount: Int
    /// Frames per period (the unit the device wakes the program for).
    let periodFrames: Int
    /// Frames the device's ring buffer holds.
    let bufferFrames: Int
    /// Over- or underruns recovered so far.
    private(set) var xrunCount = 0
    /// Frames captured so far (where injected overruns are placed).
    private var framesRead = 0
    /// Injected overruns still to come, in order.
    private var pendingOverruns: [Int]
    private let logger: Logger

    init(_ request: PCMRequest) throws(AudioIOError) {
        ALSALibraryMessages.install()
        var logger = Logger(label: "hark.audio.alsa")
        logger[metadataKey: "device"] = "\(request.device)"
        self.logger = logger
        name = request.device
        direction = request.direction
        pendingOverruns = request.direction == .capture ? request.faults.overrunsAtFrames.sorted() : []
        guard request.sampleRate > 0, request.channelCount > 0, request.periodCount >= 2,
            request.periodDuration > .zero
        else {
            throw .invalid(
                "cannot open '\(request.device)' at \(request.sampleRate) Hz, \(request.channelCount) channel(s), "
                    + "\(request.periodCount) periods of \(request.periodDuration)")
        }
        // Opened non-blocking so a device held by another program fails at once (EBUSY) instead of waiting for it.
        let opened = Self.open(request)
        guard let handle = opened.handle else { throw Self.openFailure(opened.code, request) }
        self.handle = handle
        do {
            try Self.check(snd_pcm_nonblock(handle, 0), "snd_pcm_nonblock", request.device)
            let accepted = try Self.configure(handle, request)
            sampleRate = accepted.rate
            channelCount = request.channelCount
            periodFrames = accepted.period
            bufferFrames = accepted.buffer
        } catch {
            snd_pcm_close(handle)
            throw error
        }
        logger.debug(
            "opened for \(direction.noun): \(sampleRate) Hz, \(channelCount) ch, period \(periodFrames), buffer \(bufferFrames)"
        )
    }

    deinit {
        snd_pcm_close(handle)
    }

    // MARK: Transfers

    /// Writes interleaved samples (a whole number of frames), blocking until the device has taken them all.
    func write(_ samples: UnsafeBufferPointer<Int16>) throws(AudioIOError) {
        let frames = samples.count / channelCount
        var done = 0
        while done < frames {
            let result = snd_pcm_writei(
                handle, samples.baseAddress! + done * channelCount, snd_pcm_uframes_t(frames - done))
            if result >= 0 {
                done += result
            } else {
                try recover(Int32(result), "snd_pcm_writei")
            }
        }
    }

    /// Fills `samples` (a whole number of frames) from the device, blocking until they have arrived.
    ///
    /// The buffer is zeroed first: ALSA's `null` device and a `file` device past the end of its file report
    /// success without writing anything, and what they leave behind is then silence, not stale samples.
    func read(into samples: UnsafeMutableBufferPointer<Int16>) throws(AudioIOError) {
        samples.update(repeating: 0)
        let frames = samples.count / channelCount
        var done = 0
        defer { framesRead += done }
        while done < frames {
            if let position = pendingOverruns.first, framesRead + done >= position {
                pendingOverruns.removeFirst()
                logger.notice("injecting an overrun at frame \(framesRead + done) (InjectedFaults)")
                try recover(-EPIPE, "snd_pcm_readi")
                continue
            }
            let result = snd_pcm_readi(
                handle, samples.baseAddress! + done * channelCount, snd_pcm_uframes_t(frames - done))
            if result > 0 {
                done += result
            } else if result == 0 {
                // Blocking reads do not return 0; should a plugin do so, wait for data instead of spinning.
                try check(snd_pcm_wait(handle, 100), "snd_pcm_wait")
            } else {
                try recover(Int32(result), "snd_pcm_readi")
            }
        }
    }

    /// Blocks until every frame written so far has been played, then makes the device ready for more.
    func drain() throws(AudioIOError) {
        let result = snd_pcm_drain(handle)
        if result < 0, result != -EPIPE { try check(result, "snd_pcm_drain") }
        try prepare()
    }

    /// Stops at once, dropping the frames still queued, and makes the device ready for more.
    func drop() throws(AudioIOError) {
        try check(snd_pcm_drop(handle), "snd_pcm_drop")
        try prepare()
    }

    private func prepare() throws(AudioIOError) {
        try check(snd_pcm_prepare(handle), "snd_pcm_prepare")
    }

    /// Recovers from an xrun, a suspend or an interrupted call; throws anything else.
    private func recover(_ code: Int32, _ function: String) throws(AudioIOError) {
        guard code == -EPIPE || code == -ESTRPIPE || code == -EINTR else {
            try check(code, function)
            return
        }
        if code != -EINTR {
            xrunCount += 1
            let what =
                code == -ESTRPIPE ? "suspended" : direction == .playback ? "underrun (starved)" : "overrun (not read)"
            logger.warning("\(direction.noun) \(what); recovering (xrun \(xrunCount))")
        }
        try check(snd_pcm_recover(handle, code, 1), "snd_pcm_recover after \(function)")
    }

    // MARK: The check helper

    /// Returns `result`, or throws `AudioIOError` `.deviceFailure` when it is a negative ALSA error code.
    @discardableResult
    private func check<T: BinaryInteger>(_ result: T, _ function: String) throws(AudioIOError) -> T {
        try Self.check(result, function, name)
    }

    @discardableResult
    private static func check<T: BinaryInteger>(
        _ result: T, _ function: String, _ device: String, _ code: AudioIOError.Code = .deviceFailure
    ) throws(AudioIOError) -> T {
        guard result < 0 else { return result }
        let number = Int32(clamping: result)
        throw AudioIOError(
            code, "sound device '\(device)': \(function) failed", detail: String(cString: snd_strerror(number)),
            subject: device, errorNumber: number)
    }

    // MARK: Opening

    /// Opens the PCM (non-blocking), with the request's extra configuration when it has one.
    private static func open(_ request: PCMRequest) -> (handle: OpaquePointer?, code: Int32) {
        var handle: OpaquePointer?
        let mode = Int32(SND_PCM_NONBLOCK)
        guard let configuration = request.configuration else {
            let code = snd_pcm_open(&handle, request.device, request.direction.stream, mode)
            return (code < 0 ? nil : handle, code)
        }
        // The system's configuration (when there is one) with the extra text loaded on top.
        var config: OpaquePointer?
        var top: OpaquePointer?
        if snd_config_update_ref(&top) >= 0, let top {
            _ = snd_config_copy(&config, top)
            snd_config_unref(top)
        }
        if config == nil, snd_config_top(&config) < 0 { return (nil, -ENOMEM) }
        defer { snd_config_delete(config) }
        var input: OpaquePointer?
        let text = configuration.text
        var code = text.withCString { snd_input_buffer_open(&input, $0, strlen($0)) }
        guard code >= 0, let input else { return (nil, code) }
        code = snd_config_load(config, input)
        snd_input_close(input)
        guard code >= 0 else { return (nil, Self.invalidConfiguration) }
        code = snd_pcm_open_lconf(&handle, request.device, request.direction.stream, mode, config)
        return (code < 0 ? nil : handle, code)
    }

    /// Stands for "the extra configuration text does not parse" among ALSA's negative errno codes.
    private static let invalidConfiguration: Int32 = .min

    private static func openFailure(_ code: Int32, _ request: PCMRequest) -> AudioIOError {
        let device = request.device
        let direction = request.direction
        if code == invalidConfiguration {
            return AudioIOError(
                .invalidArgument, "the ALSA configuration given for sound device '\(device)' does not parse",
                subject: device)
        }
        let detail = String(cString: snd_strerror(code))
        switch -code {
        case ENOENT, ENODEV, ENXIO:
            let lister = direction == .playback ? "aplay -L" : "arecord -L"
            let instead =
                direction == .playback ? "write the audio to a file instead" : "read the audio from a file instead"
            return AudioIOError(
                .noSoundDevice,
                "no sound device '\(device)' for \(direction.noun): ALSA has no device of that name, or this machine "
                    + "has no sound card (`\(lister)` lists the devices); choose another device, or \(instead)",
                detail: detail, subject: device, errorNumber: code)
        case EBUSY, EAGAIN:
            return AudioIOError(
                .deviceBusy, "sound device '\(device)' is busy: another program is using it for \(direction.noun)",
                detail: detail, subject: device, errorNumber: code)
        default:
            return AudioIOError(
                .deviceFailure, "cannot open sound device '\(device)' for \(direction.noun)", detail: detail,
                subject: device, errorNumber: code)
        }
    }

    /// Sets S16_LE interleaved, channels, rate, period and buffer; returns what the device accepted.
    private static func configure(_ pcm: OpaquePointer, _ request: PCMRequest) throws(AudioIOError) -> (
        rate: Int, period: Int, buffer: Int
    ) {
        let device = request.device
        var hardware: OpaquePointer?
        try check(snd_pcm_hw_params_malloc(&hardware), "snd_pcm_hw_params_malloc", device)
        defer { snd_pcm_hw_params_free(hardware) }
        try check(snd_pcm_hw_params_any(pcm, hardware), "snd_pcm_hw_params_any", device)
        let refused = AudioIOError.Code.unsupportedDeviceSetting
        try check(
            snd_pcm_hw_params_set_access(pcm, hardware, SND_PCM_ACCESS_RW_INTERLEAVED),
            "snd_pcm_hw_params_set_access (interleaved read/write)", device, refused)
        try check(
            snd_pcm_hw_params_set_format(pcm, hardware, SND_PCM_FORMAT_S16_LE),
            "snd_pcm_hw_params_set_format (S16_LE)", device, refused)
        try check(
            snd_pcm_hw_params_set_channels(pcm, hardware, UInt32(request.channelCount)),
            "snd_pcm_hw_params_set_channels (\(request.channelCount))", device, refused)
        var rate = UInt32(clamping: request.sampleRate)
        var direction: Int32 = 0
        try check(
            snd_pcm_hw_params_set_rate_near(pcm, hardware, &rate, &direction),
            "snd_pcm_hw_params_set_rate_near (\(request.sampleRate) Hz)", device, refused)
        let (seconds, attoseconds) = request.periodDuration.components
        let periodSeconds = Double(seconds) + Double(attoseconds) * 1e-18
        var period = snd_pcm_uframes_t(max(1, (Double(rate) * periodSeconds).rounded()))
        try check(
            snd_pcm_hw_params_set_period_size_near(pcm, hardware, &period, &direction),
            "snd_pcm_hw_params_set_period_size_near (\(period) frames)", device, refused)
        var buffer = period * snd_pcm_uframes_t(request.periodCount)
        try check(
            snd_pcm_hw_params_set_buffer_size_near(pcm, hardware, &buffer),
            "snd_pcm_hw_params_set_buffer_size_near (\(buffer) frames)", device, refused)
        try check(snd_pcm_hw_params(pcm, hardware), "snd_pcm_hw_params", device, refused)
        try check(snd_pcm_hw_params_get_rate(hardware, &rate, &direction), "snd_pcm_hw_params_get_rate", device)
        try check(
            snd_pcm_hw_params_get_period_size(hardware, &period, &direction), "snd_pcm_hw_params_get_period_size",
            device)
        try check(snd_pcm_hw_params_get_buffer_size(hardware, &buffer), "snd_pcm_hw_params_get_buffer_size", device)

        var software: OpaquePointer?
        try check(snd_pcm_sw_params_malloc(&software), "snd_pcm_sw_params_malloc", device)
        defer { snd_pcm_sw_params_free(software) }
        try check(snd_pcm_sw_params_current(pcm, software), "snd_pcm_sw_params_current", device)
        // Playback starts once the buffer is full (or at drain), so the first periods do not underrun.
        let start = request.direction == .playback ? buffer : 1
        try check(
            snd_pcm_sw_params_set_start_threshold(pcm, software, start), "snd_pcm_sw_params_set_start_threshold",
            device)
        try check(snd_pcm_sw_params_set_avail_min(pcm, software, period), "snd_pcm_sw_params_set_avail_min", device)
        try check(snd_pcm_sw_params(pcm, software), "snd_pcm_sw_params", device)
        return (Int(rate), Int(period), Int(buffer))
    }
}

/// Routes alsa-lib's own messages (which it prints to stderr by default) to the logger, at debug level: AudioIO
/// reports every failure as an `AudioIOError` already.
enum ALSALibraryMessages {
    private static let logger = Logger(label: "hark.audio.alsa-lib")

    /// Installs the route, once per process (alsa-lib's handler is process-wide).
    static func install() { _ = installed }

    private static let installed: Void = {
        _ = CALSA_set_message_sink { file, line, function, code, message in
            let text = message.map { String(cString: $0) } ?? ""
            let place =
                "\(file.map { String(cString: $0) } ?? "?"):\(line) \(function.map { String(cString: $0) } ?? "")"
            let suffix = code == 0 ? "" : " (\(String(cString: snd_strerror(code))))"
            ALSALibraryMessages.logger.debug("\(place): \(text)\(suffix)")
        }
    }()
}
