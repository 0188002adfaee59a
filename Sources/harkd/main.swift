import ArgumentParser

/// The Hark voice-assistant daemon. The model code lands with its own issue; until then this says so plainly.
@main
struct Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "harkd", abstract: "The Hark voice-assistant daemon.")

    @Argument(parsing: .allUnrecognized, help: .hidden) var rest: [String] = []

    func run() throws {
        throw ValidationError("harkd is not built yet: this part of Hark has not landed.")
    }
}
