// Child processes for the tests (the built executables, the reference scripts, curl): run to their end with both
// pipes read while they run, and never waited for without a limit. A child that outlives its limit has every
// thread's stack taken (gdb, when installed) before it is killed, so a hang fails its test and says where it hung
// instead of holding the whole run.

import Dispatch
import Foundation
import HarkTestExit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Kills `process` once it has run for `limit`, first taking its threads' stacks for the failure message.
public final class ProcessWatchdog: Sendable {
    private let state = Mutex<(cancelled: Bool, stacks: String?)>((false, nil))

    /// Starts the clock on a process that is already running.
    public init(_ process: Process, limit: Duration) {
        let pid = process.processIdentifier
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) * 1e-18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard !state.withLock({ $0.cancelled }), process.isRunning else { return }
            let stacks = Self.stacks(of: pid)
            state.withLock { $0.stacks = stacks }
            kill(pid, SIGKILL)
        }
    }

    /// Stops the clock (the process ended, or the caller ends it).
    public func cancel() { state.withLock { $0.cancelled = true } }

    /// What the process was doing when it was killed: its threads' stacks, or nil if it was not killed.
    public var stacks: String? { state.withLock { $0.stacks } }

    /// Every thread's stack of `pid` by gdb, or a note saying why there are none.
    public static func stacks(of pid: Int32) -> String {
        guard let gdb = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first(where: FileManager.default.isExecutableFile)
        else { return "(no stacks: gdb is not installed)" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gdb)
        process.arguments = [
            "-batch", "-nx", "-p", "\(pid)", "-ex", "set print frame-arguments none", "-ex",
            "set print frame-info short-location", "-ex", "thread apply all bt 24",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "(no stacks: gdb did not start)" }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").filter { $0.hasPrefix("Thread") || $0.hasPrefix("#") }.joined(
            separator: "\n")
    }
}

/// A child process run to its end.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var outputData: Data
        public var errorData: Data
        public var output: String { String(decoding: outputData, as: UTF8.self) }
        public var error: String { String(decoding: errorData, as: UTF8.self) }
    }

    /// A child that outlived its limit; it was killed.
    public struct TimedOut: Error, CustomStringConvertible {
        public var command: String
        public var limit: Duration
        public var output: String
        public var error: String
        public var stacks: String
        public var description: String {
            "\(command) was still running after \(limit) and was killed.\noutput: \(output.suffix(2000))\nerror: "
                + "\(error.suffix(2000))\nits threads:\n\(stacks)"
        }
    }

    /// Runs `executable` with `arguments` (and `input` on its standard input, `environment` added to this
    /// process's) to its end, reading standard output and error while it runs (one pipe, `mergeOutput`, or two), so
    /// a full pipe never stalls it. Throws `TimedOut` when it runs longer than `limit`.
    public static func run(
        _ executable: URL, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:],
        mergeOutput: Bool = false, limit: Duration = .seconds(600)
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let (out, err) = (Pipe(), mergeOutput ? nil : Pipe())
        process.standardOutput = out
        process.standardError = err ?? out
        // Standard input from a file, not a pipe: a child that exits without reading it (an error path) would
        // otherwise make the write fail with EPIPE, and SIGPIPE ends the test process.
        var inputFile: URL?
        if let input {
            let file = FileManager.default.temporaryDirectory.appending(path: "hark-stdin-\(UUID().uuidString)")
            try input.write(to: file)
            inputFile = file
            process.standardInput = try FileHandle(forReadingFrom: file)
        }
        defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
        try process.run()
        let watchdog = ProcessWatchdog(process, limit: limit)
        defer { watchdog.cancel() }
        let reading = DispatchGroup()
        let errorData = Mutex(Data())
        if let err {
            DispatchQueue.global().async(group: reading) {
                let data = err.fileHandleForReading.readDataToEndOfFile()
                errorData.withLock { $0 = data }
            }
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        reading.wait()
        process.waitUntilExit()
        let result = Result(status: process.terminationStatus, outputData: output, errorData: errorData.withLock { $0 })
        if let stacks = watchdog.stacks {
            let command = ([executable.lastPathComponent] + arguments).joined(separator: " ")
            throw TimedOut(command: command, limit: limit, output: result.output, error: result.error, stacks: stacks)
        }
        return result
    }

    /// `run` on a Dispatch thread, awaited without holding a thread of Swift's cooperative pool: servers under test
    /// run on that pool (two threads on a two-core machine), and tests that each blocked one of them while their
    /// client waited for those servers would stall each other.
    public static func runOffPool(
        _ executable: URL, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:],
        mergeOutput: Bool = false, limit: Duration = .seconds(600)
    ) async throws -> Result {
        try await offCooperativePool {
            try run(
                executable, arguments, input: input, environment: environment, mergeOutput: mergeOutput, limit: limit)
        }
    }
}

/// Blocking work (a child's end, a pipe read) on a Dispatch thread, awaited without holding one of the cooperative
/// pool's few threads, on which the servers under test run.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// Whether this test process ends without shared libraries' destructors (HarkTestExit: OpenBLAS's can deadlock).
public var testProcessSkipsLibraryDestructors: Bool { hark_test_exit_installed() != 0 }
