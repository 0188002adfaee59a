import ArgumentParser

/// Speech to text with Whisper. The model code lands with its own issue; until then this says so plainly.
@main
struct Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transcribe", abstract: "Speech to text with Whisper.")

    @Argument(parsing: .allUnrecognized, help: .hidden) var rest: [String] = []

    func run() throws {
        throw ValidationError("transcribe is not built yet: this part of Hark has not landed.")
    }
}
