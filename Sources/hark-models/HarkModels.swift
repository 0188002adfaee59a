import ArgumentParser
import ModelStore

/// Lists, locates and verifies the models named in Hark's catalogs.
@main
struct HarkModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hark-models",
        abstract: "List, locate and verify Hark's models.",
        discussion: """
            Models are installed by scripts/fetch-models into $HARK_DATA (default $XDG_DATA_HOME/hark, \
            else ~/.local/share/hark). Catalogs are found through $HARK_CATALOG_DIR, else above the executable \
            or the current directory.
            """,
        subcommands: [List.self, Path.self, Verify.self, Inspect.self])
}
