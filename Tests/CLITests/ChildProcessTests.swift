// The tests' own guard against hangs (HarkTestSupport): a child past its limit is killed, and the failure names it
// and shows where it was.

import Foundation
import HarkTestSupport
import Testing

@Suite("Child processes with a time limit")
struct ChildProcessTests {
    @Test("A child past its limit is killed and its stacks are reported; one within it runs to its end")
    func limit() throws {
        let start = ContinuousClock.now
        do {
            _ = try ChildProcess.run(URL(fileURLWithPath: "/bin/sleep"), ["30"], limit: .seconds(1))
            Issue.record("sleep 30 was not stopped")
        } catch let error as ChildProcess.TimedOut {
            #expect(error.command == "sleep 30")
            #expect(error.description.contains("was killed"))
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") {
                #expect(error.stacks.contains("Thread 1"), "\(error.stacks)")
            }
        }
        #expect(ContinuousClock.now - start < .seconds(25))

        let echo = try ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "cat; echo err >&2; exit 3"], input: Data("in".utf8),
            limit: .seconds(60))
        #expect(echo.status == 3 && echo.output == "in" && echo.error == "err\n")
    }

    @Test("The test process exits without library destructors, as the executables do")
    func exitHandler() {
        #expect(testProcessSkipsLibraryDestructors)
    }
}
