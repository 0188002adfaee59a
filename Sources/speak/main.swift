import ArgumentParser

/// Text to speech with Piper voices. The model code lands with its own issue; until then this says so plainly.
@main
struct Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "speak", abstract: "Text to speech with Piper voices.")

    @Argument(parsing: .allUnrecognized, help: .hidden) var rest: [String] = []

    func run() throws {
        throw ValidationError("speak is not built yet: this part of Hark has not landed.")
    }
}
