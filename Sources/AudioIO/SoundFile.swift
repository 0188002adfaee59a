// SoundFile: reading any format libsndfile reads, and writing WAV or FLAC, from and to paths or bytes in memory.

import CSndFile

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A container and sample encoding that `SoundFile` writes.
public struct SoundFileFormat: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case wav16
        case wavFloat
        case flac16
    }

    private let kind: Kind

    /// WAV (RIFF), signed 16-bit PCM: what every player and the OpenAI speech API's `wav` response use.
    public static let wav16 = SoundFileFormat(kind: .wav16)
    /// WAV (RIFF), 32-bit IEEE float: keeps samples exactly as computed, clipping nothing.
    public static let wavFloat = SoundFileFormat(kind: .wavFloat)
    /// FLAC, 16-bit: lossless and about half the size of a 16-bit WAV.
    public static let flac16 = SoundFileFormat(kind: .flac16)

    /// The format for a file name's extension (`wav`, `flac`; any case), or nil for one AudioIO does not write.
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "wav", "wave": self = .wav16
        case "flac": self = .flac16
        default: return nil
        }
    }

    /// The format for a path's extension (`out.wav`, `reply.flac`), or nil when it has none AudioIO writes.
    public init?(path: String) {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        self.init(pathExtension: String(name[name.index(after: dot)...]))
    }

    private init(kind: Kind) {
        self.kind = kind
    }

    /// The usual file name extension, without the dot.
    public var fileExtension: String {
        switch kind {
        case .wav16, .wavFloat: "wav"
        case .flac16: "flac"
        }
    }

    /// The HTTP content type.
    public var mimeType: String {
        switch kind {
        case .wav16, .wavFloat: "audio/wav"
        case .flac16: "audio/flac"
        }
    }

    public var description: String {
        switch kind {
        case .wav16: "WAV 16-bit"
        case .wavFloat: "WAV float"
        case .flac16: "FLAC 16-bit"
        }
    }

    /// libsndfile's `SF_FORMAT_*` bits.
    var libsndfileFormat: Int32 {
        switch kind {
        case .wav16: Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .wavFloat: Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        case .flac16: Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        }
    }

    /// Whether samples are handed to libsndfile as 16-bit integers (converted by `SampleConversion`).
    var isSixteenBit: Bool { kind != .wavFloat }
}

/// Reads and writes sound files through libsndfile.
///
/// Reading takes any format libsndfile decodes (WAV, FLAC, OGG/Vorbis, Opus, AIFF, CAF, MP3 where libsndfile was
/// built with it, …) at any rate and channel count; samples come back as floats (16-bit `s` as `s / 32768`).
/// Writing makes WAV or FLAC (`SoundFileFormat`). Every failure is an `AudioIOError` naming the file, with
/// libsndfile's own message as its `detail`.
public enum SoundFile {
    /// Frames decoded per `sf_readf_float` call.
    private static let chunkFrames = 1 << 15

    // MARK: Reading

    /// Reads and decodes the sound file at `path`.
    ///
    /// A file holding a valid header and no samples gives an empty buffer.
    /// - Throws: `AudioIOError` `.emptyFile` for a zero-byte file, `.unreadableFile` for a missing or unreadable
    ///   file, or one that is not audio or is corrupt.
    public static func read(path: String) throws(AudioIOError) -> PCMBuffer {
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size == 0 {
            throw .empty(path)
        }
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw .unreadable(path, detail: String(cString: sf_strerror(nil)))
        }
        return try decode(file, info, name: path)
    }

    /// Decodes a whole sound file held in memory (a request body, standard input).
    /// - Parameter name: what error messages call the bytes (`"standard input"`, `"request body"`).
    /// - Throws: `AudioIOError` `.emptyFile` for no bytes, `.unreadableFile` when they are not audio or corrupt.
    public static func decode(_ bytes: [UInt8], name: String = "audio data") throws(AudioIOError) -> PCMBuffer {
        if bytes.isEmpty { throw .empty(name) }
        let memory = MemoryFile(bytes: bytes)
        return try withExtendedLifetime(memory) { () throws(AudioIOError) in
            var callbacks = MemoryFile.callbacks
            var info = SF_INFO()
            guard let file = sf_open_virtual(&callbacks, Int32(SFM_READ), &info, memory.userData) else {
                throw .unreadable(name, detail: String(cString: sf_strerror(nil)))
            }
            return try decode(file, info, name: name)
        }
    }

    /// Reads standard input to its end and decodes it (`transcribe -`).
    /// - Throws: `AudioIOError` as `decode(_:name:)` does, or `.unreadableFile` when standard input cannot be read.
    public static func readStandardInput() throws(AudioIOError) -> PCMBuffer {
        let name = "standard input"
        let bytes: [UInt8]
        do { bytes = try POSIX.readAll(STDIN_FILENO) } catch { throw .unreadable(name, detail: error.description) }
        return try decode(bytes, name: name)
    }

    /// Reads every frame of an open file, then closes it.
    private static func decode(_ file: OpaquePointer, _ info: SF_INFO, name: String) throws(AudioIOError) -> PCMBuffer {
        defer { sf_close(file) }
        let channelCount = Int(info.channels)
        guard channelCount >= 1, info.samplerate >= 1 else {
            throw .unreadable(name, detail: "\(info.channels) channels at \(info.samplerate) Hz")
        }
        var samples: [Float] = []
        // `frames` is exact for most formats; for streams it can be unknown (huge), so it only sizes a reservation.
        if info.frames > 0, info.frames < 1 << 31 { samples.reserveCapacity(Int(info.frames) * channelCount) }
        var chunk = [Float](repeating: 0, count: chunkFrames * channelCount)
        while true {
            let frames = chunk.withUnsafeMutableBufferPointer {
                Int(sf_readf_float(file, $0.baseAddress, sf_count_t(chunkFrames)))
            }
            if frames <= 0 { break }
            samples.append(contentsOf: chunk[0..<(frames * channelCount)])
        }
        if sf_error(file) != 0 {
            throw .unreadable(name, detail: String(cString: sf_strerror(file)))
        }
        return PCMBuffer(samples: samples, sampleRate: Int(info.samplerate), channelCount: channelCount)
    }

    // MARK: Writing

    /// Encodes `buffer` as a whole file in memory (an HTTP response body, `--output -`).
    /// - Throws: `AudioIOError` `.unwritableFile` when libsndfile cannot encode it (e.g. a rate FLAC cannot hold).
    public static func encode(_ buffer: PCMBuffer, as format: SoundFileFormat = .wav16) throws(AudioIOError) -> [UInt8]
    {
        try encode(buffer, as: format, name: "\(format) data")
    }

    /// Writes `buffer` to `path` atomically: the file appears complete or not at all (an existing file at `path`
    /// is replaced only once the new one is fully written).
    /// - Parameter format: nil picks it from the path's extension (`.wav`, `.flac`), else WAV 16-bit.
    /// - Throws: `AudioIOError` `.unwritableFile` naming the path.
    public static func write(_ buffer: PCMBuffer, to path: String, as format: SoundFileFormat? = nil)
        throws(AudioIOError)
    {
        let bytes = try encode(buffer, as: format ?? SoundFileFormat(path: path) ?? .wav16, name: path)
        do { try POSIX.writeAtomically(bytes, to: path) } catch { throw .unwritable(path, detail: error.description) }
    }

    private static func encode(_ buffer: PCMBuffer, as format: SoundFileFormat, name: String) throws(AudioIOError)
        -> [UInt8]
    {
        var info = SF_INFO()
        info.samplerate = Int32(clamping: buffer.sampleRate)
        info.channels = Int32(clamping: buffer.channelCount)
        info.format = format.libsndfileFormat
        guard sf_format_check(&info) != 0 else {
            throw .unwritable(
                name, detail: "\(format) cannot hold \(buffer.channelCount) channels at \(buffer.sampleRate) Hz")
        }
        let memory = MemoryFile()
        try withExtendedLifetime(memory) { () throws(AudioIOError) in
            var callbacks = MemoryFile.callbacks
            guard let file = sf_open_virtual(&callbacks, Int32(SFM_WRITE), &info, memory.userData) else {
                throw .unwritable(name, detail: String(cString: sf_strerror(nil)))
            }
            let frames = sf_count_t(buffer.frameCount)
            let written =
                format.isSixteenBit
                ? SampleConversion.int16(buffer.samples).withUnsafeBufferPointer {
                    sf_writef_short(file, $0.baseAddress, frames)
                }
                : buffer.samples.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, frames) }
            let detail = written == frames ? nil : String(cString: sf_strerror(file))
            let closed = sf_close(file)
            if let detail { throw .unwritable(name, detail: detail) }
            if closed != 0 { throw .unwritable(name, detail: String(cString: sf_error_number(closed))) }
        }
        return memory.bytes
    }
}
