import Dispatch

/// `s` padded with spaces to a column of `n` characters (at least one space after it).
func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
}

/// Best wall time of `body` in seconds, after one warm-up run, over at least `minimumRuns` runs and `seconds`
/// in total: the best run is the one least disturbed by the rest of the machine.
func bestTime(seconds: Double, minimumRuns: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    let start = DispatchTime.now().uptimeNanoseconds
    var runs = 0
    while runs < minimumRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        runs += 1
    }
    return best
}
