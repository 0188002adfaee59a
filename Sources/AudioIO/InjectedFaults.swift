// InjectedFaults: faults an ALSA device reports on purpose, so that the recovery paths ALSA's file and null devices
// never take can be run through a real device.

/// Faults an ALSA device simulates on purpose (an opt-in for tests and fault drills; nothing injects them by default).
///
/// ALSA's `file` and `null` plugins, the only devices of a machine without a sound card, are not clocked: they never
/// over- or underrun, so recovery from an xrun cannot be brought about through them. An injected overrun makes a
/// capture read get `-EPIPE` (what `snd_pcm_readi` returns after an overrun) instead of calling `snd_pcm_readi` once,
/// and everything after that is the real recovery path: the warning, the count in `xrunCount`, and
/// `snd_pcm_recover` on the open device, which prepares it again so that the next read restarts it. Unlike a real
/// overrun, no audio is lost.
public struct InjectedFaults: Sendable, Hashable, Codable {
    /// Capture positions, in frames read since the device opened, at which a read reports an overrun (once each).
    public var overrunsAtFrames: [Int]

    /// Faults at the given positions.
    public init(overrunsAtFrames: [Int] = []) {
        self.overrunsAtFrames = overrunsAtFrames.sorted()
    }

    /// No faults.
    public static let none = InjectedFaults()
}
