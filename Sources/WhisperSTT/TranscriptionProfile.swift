import Dispatch
import Synchronization

/// Where transcription time goes, stage by stage (for `transcribe --profile` and BENCHMARKS.md).
public final class TranscriptionProfile: Sendable {
    public enum Stage: String, CaseIterable, Sendable {
        case voiceActivity = "vad"
        case logMel = "mel"
        case encoder
        case decoder
    }

    private let totals = Mutex<[Stage: (seconds: Double, count: Int)]>([:])

    public init() {}

    /// Runs `body`, adding its wall time to `stage` (and `count` items, e.g. decoded tokens).
    func measure<T>(_ stage: Stage, count: Int = 1, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            totals.withLock { t in
                let old = t[stage] ?? (0, 0)
                t[stage] = (old.seconds + seconds, old.count + count)
            }
        }
        return try body()
    }

    /// Adds items to a stage without time (tokens counted after a decode).
    func count(_ stage: Stage, _ n: Int) {
        totals.withLock { t in
            let old = t[stage] ?? (0, 0)
            t[stage] = (old.seconds, old.count + n)
        }
    }

    /// Seconds and item counts per stage.
    public var summary: [(stage: Stage, seconds: Double, count: Int)] {
        totals.withLock { t in Stage.allCases.compactMap { s in t[s].map { (s, $0.seconds, $0.count) } } }
    }
}
