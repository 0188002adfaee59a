// Timers: spoken durations ("five minutes", "1 minute and 30 seconds") and the timers the user set. Time here is
// whatever clock the owner passes in (`now`): the pipeline uses the capture stream's sample count, so timers fire
// on audio time, the same on a real microphone and on a file-backed test device.

/// Reads and says durations.
public enum SpokenDuration {
    private static let units: [(prefix: String, seconds: Int)] = [
        ("second", 1), ("sec", 1), ("minute", 60), ("min", 60), ("hour", 3600),
    ]
    private static let numbers: [String: Int] = [
        "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
        "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
        "fifty": 50, "sixty": 60, "ninety": 90,
    ]

    /// The duration `text` names, or nil when it names none: numbers (digits or words up to ninety-nine) followed
    /// by seconds, minutes or hours, summed ("one hour and 5 minutes"); "half an hour" too.
    public static func parse(_ text: String) -> Duration? {
        let words = IntentMatcher.normalize(text).split(separator: " ").map(String.init)
        var total = 0.0
        var found = false
        var amount: Double?
        var skip = 0
        for (i, word) in words.enumerated() {
            if skip > 0 {
                skip -= 1
                continue
            }
            // "half an hour", "half a minute".
            if word == "half", i + 2 < words.count, ["a", "an"].contains(words[i + 1]),
                let unit = units.first(where: { words[i + 2].hasPrefix($0.prefix) })
            {
                total += Double(unit.seconds) / 2
                found = true
                amount = nil
                skip = 2
                continue
            }
            if let value = Double(word) ?? numbers[word].map(Double.init) {
                // "twenty five": add the ones to the tens.
                if let previous = amount, previous >= 20, previous.truncatingRemainder(dividingBy: 10) == 0,
                    value < 10
                {
                    amount = previous + value
                } else {
                    amount = value
                }
                continue
            }
            if let amount, let unit = units.first(where: { word.hasPrefix($0.prefix) }) {
                total += amount * Double(unit.seconds)
                found = true
            }
            amount = nil
        }
        guard found, total > 0 else { return nil }
        return .milliseconds(Int64(total * 1000))
    }

    /// `duration` in words for speaking, rounded to seconds: "1 hour and 5 minutes", "30 seconds".
    public static func describe(_ duration: Duration) -> String {
        let seconds = max(
            0, Int((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18).rounded()))
        let parts = [(seconds / 3600, "hour"), (seconds % 3600 / 60, "minute"), (seconds % 60, "second")]
            .filter { $0.0 > 0 }
            .map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
        switch parts.count {
        case 0: return "0 seconds"
        case 1: return parts[0]
        default: return parts.dropLast().joined(separator: ", ") + " and " + parts.last!
        }
    }
}

/// The timers the user set, as a value: deadlines on the owner's clock.
public struct TimerBook: Sendable, Equatable {
    /// One timer.
    public struct Timer: Sendable, Equatable {
        /// How long it was set for.
        public var duration: Duration
        /// When it fires.
        public var deadline: Duration
    }

    /// The running timers, soonest first.
    public private(set) var timers: [Timer] = []

    public init() {}

    /// Sets a timer for `duration` from `now`.
    public mutating func set(_ duration: Duration, now: Duration) {
        timers.append(Timer(duration: duration, deadline: now + duration))
        timers.sort { $0.deadline < $1.deadline }
    }

    /// Cancels every timer; returns how many there were.
    @discardableResult
    public mutating func cancelAll() -> Int {
        defer { timers = [] }
        return timers.count
    }

    /// The soonest timer and its time left at `now`.
    public func next(now: Duration) -> (timer: Timer, remaining: Duration)? {
        timers.first.map { ($0, max(.zero, $0.deadline - now)) }
    }

    /// When the soonest timer fires.
    public var nextDeadline: Duration? { timers.first?.deadline }

    /// Removes and returns the timers due at `now`.
    public mutating func takeDue(now: Duration) -> [Timer] {
        let due = timers.filter { $0.deadline <= now }
        timers.removeAll { $0.deadline <= now }
        return due
    }
}
