import ArgumentParser
import ModelStore

extension HarkModels {
    /// `hark-models path NAME`: the folder an installed model lives in.
    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the folder of an installed model (its files checked for presence and size).")

        @Argument(help: "A model name from the catalogs.")
        var name: String

        func run() throws {
            print(try ModelStore().installedModel(named: name).directory.path)
        }
    }
}
