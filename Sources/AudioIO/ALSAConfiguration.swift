// ALSAConfiguration: extra ALSA configuration (asoundrc syntax) for one device, e.g. file-backed test devices.

/// ALSA configuration text in asoundrc syntax, loaded on top of the system's configuration for the devices one
/// `ALSAPlayback` or `ALSACapture` opens, and for nothing else in the process.
///
/// It defines devices without touching `~/.asoundrc` or the process-wide `ALSA_CONFIG_PATH` (which would replace
/// the whole system configuration, leaving even `null` and `default` undefined). Its main use is ALSA's `file`
/// plugin, which makes a real ALSA device out of files when there is no sound card: playback writes the samples to
/// a file, capture reads them from one (`filePlayback(to:)`, `fileCapture(from:)`). Such devices run as fast as
/// they are fed, not in real time, and a capture device keeps "succeeding" past the end of its file (AudioIO then
/// delivers silence), so time in tests comes from sample counts.
public struct ALSAConfiguration: Sendable, Hashable {
    /// The configuration, in asoundrc syntax.
    public var text: String

    /// Wraps configuration text in asoundrc syntax.
    public init(_ text: String) {
        self.text = text
    }

    /// A playback device named `device` that writes raw signed 16-bit little-endian samples to the file at `path`
    /// (created, or truncated, when the device opens; the file plugin pads the last period with silence).
    /// - Parameter wav: write a WAV file (the header's sizes are filled in when the device closes) instead of raw.
    public static func filePlayback(named device: String = "hark_out", to path: String, wav: Bool = false)
        -> ALSAConfiguration
    {
        ALSAConfiguration(
            """
            pcm.\(quoted(device)) {
                type file
                slave { pcm { type null } }
                file \(quoted(path))
                format \(wav ? "wav" : "raw")
            }

            """)
    }

    /// A capture device named `device` that reads raw samples (no header: signed 16-bit little-endian, in the rate
    /// and channel count the device is opened with) from the file at `path`.
    public static func fileCapture(named device: String = "hark_in", from path: String) -> ALSAConfiguration {
        ALSAConfiguration(
            """
            pcm.\(quoted(device)) {
                type file
                slave { pcm { type null } }
                file "/dev/null"
                infile \(quoted(path))
                format raw
            }

            """)
    }

    /// This configuration followed by `other` (later definitions of the same key are merged or, with `!`, win).
    public func appending(_ other: ALSAConfiguration) -> ALSAConfiguration {
        ALSAConfiguration(text + "\n" + other.text)
    }

    /// `string` as an ALSA configuration string literal.
    private static func quoted(_ string: String) -> String {
        var escaped = ""
        for character in string {
            if character == "\\" || character == "\"" || character == "'" { escaped.append("\\") }
            escaped.append(character)
        }
        return "\"\(escaped)\""
    }
}
