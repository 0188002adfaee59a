// WAVStreamWriter: a 16-bit WAV of unknown length written to a file descriptor as the samples arrive.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a 16-bit PCM WAV stream to a file descriptor (standard output, a socket, a file) while the audio is still
/// being made, so a listener can start playing before synthesis ends.
///
/// The RIFF header goes out first with its two sizes set to 0xFFFFFFFF ("unknown length", which players and
/// libsndfile read to the end of the stream). `finish()` patches the real sizes in when the descriptor can seek (a
/// regular file not opened for appending); on a pipe the placeholders stay. The writer does not own the descriptor: it never closes it.
///
/// ```swift
/// var wav = try WAVStreamWriter(fileDescriptor: STDOUT_FILENO, sampleRate: 22_050)
/// for chunk in voice.chunks { try wav.write(chunk) }
/// try wav.finish()
/// ```
public struct WAVStreamWriter: ~Copyable {
    /// Where the bytes go.
    public let fileDescriptor: Int32
    /// Frames per second, Hz (written into the header).
    public let sampleRate: Int
    /// Samples per frame.
    public let channelCount: Int
    /// The file offset of the header, when the descriptor can seek.
    private let headerOffset: Int?
    /// Sample bytes written so far.
    public private(set) var dataByteCount = 0
    /// What error messages call the destination.
    private let name: String

    /// Placeholder for sizes not known yet.
    private static let unknownSize = UInt32.max

    /// Writes the WAV header.
    /// - Parameter name: what error messages call the destination (`"standard output"`, a path).
    /// - Throws: `AudioIOError` `.unwritableFile` when the header cannot be written.
    public init(fileDescriptor: Int32, sampleRate: Int, channelCount: Int = 1, name: String = "standard output")
        throws(AudioIOError)
    {
        guard sampleRate > 0, channelCount > 0, channelCount <= Int(UInt16.max) else {
            throw .invalid("a WAV stream cannot hold \(channelCount) channel(s) at \(sampleRate) Hz")
        }
        // Seekable unless lseek fails (pipes, sockets, terminals); in append mode pwrite would append, not patch.
        let position = fcntl(fileDescriptor, F_GETFL) & O_APPEND == 0 ? lseek(fileDescriptor, 0, SEEK_CUR) : -1
        let header = Self.header(sampleRate: sampleRate, channelCount: channelCount, dataBytes: nil)
        do { try POSIX.writeAll(fileDescriptor, header) } catch { throw .unwritable(name, detail: error.description) }
        self.fileDescriptor = fileDescriptor
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.name = name
        headerOffset = position >= 0 ? Int(position) : nil
    }

    /// Appends interleaved float samples, clipped and rounded to 16 bits (`s * 32768`).
    /// - Precondition: `samples.count` is a multiple of `channelCount`.
    /// - Throws: `AudioIOError` `.unwritableFile` (e.g. the reader of a pipe went away).
    public mutating func write(_ samples: [Float]) throws(AudioIOError) {
        precondition(samples.count % channelCount == 0, "\(samples.count) samples do not fill \(channelCount) channels")
        let bytes = SampleConversion.littleEndianBytes(samples)
        do { try POSIX.writeAll(fileDescriptor, bytes) } catch { throw .unwritable(name, detail: error.description) }
        dataByteCount += bytes.count
    }

    /// Ends the stream: when the descriptor can seek, writes the real sizes into the header.
    /// - Throws: `AudioIOError` `.unwritableFile` when the header cannot be patched.
    public consuming func finish() throws(AudioIOError) {
        guard let headerOffset else { return }
        let header = Self.header(sampleRate: sampleRate, channelCount: channelCount, dataBytes: dataByteCount)
        do { try POSIX.writeAll(fileDescriptor, header, at: headerOffset) } catch {
            throw .unwritable(name, detail: error.description)
        }
    }

    /// The 44-byte header of a 16-bit PCM WAV file; nil `dataBytes` writes the "unknown length" placeholders.
    static func header(sampleRate: Int, channelCount: Int, dataBytes: Int?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(44)
        func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
        func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func append16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        let dataSize = dataBytes.map { UInt32(clamping: $0) } ?? unknownSize
        let riffSize = dataBytes.map { UInt32(clamping: $0 + 36) } ?? unknownSize
        let blockAlign = channelCount * 2
        append("RIFF")
        append32(riffSize)
        append("WAVE")
        append("fmt ")
        append32(16)
        append16(1)  // PCM
        append16(UInt16(channelCount))
        append32(UInt32(clamping: sampleRate))
        append32(UInt32(clamping: sampleRate * blockAlign))
        append16(UInt16(clamping: blockAlign))
        append16(16)
        append("data")
        append32(dataSize)
        return bytes
    }
}
