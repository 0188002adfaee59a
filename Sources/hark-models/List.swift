import ArgumentParser
import ModelStore

extension HarkModels {
    /// `hark-models list`: every catalog model, whether it is the default and whether it is installed.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the catalog models: kind, name, default (*), state and folder.")

        @Option(help: "Only models of this kind (voice, stt, llm).")
        var kind: ModelKind?

        func run() throws {
            let store = try ModelStore()
            var rows = [["KIND", "NAME", "DEFAULT", "STATE", "PATH"]]
            for catalog in store.catalogs where kind == nil || catalog.kind == kind {
                for entry in catalog.models {
                    let state =
                        switch store.state(of: entry, kind: catalog.kind) {
                        case .installed: "installed"
                        case .notInstalled: "missing"
                        case .damaged: "damaged"
                        }
                    rows.append([
                        catalog.kind.rawValue, entry.name, entry.isDefault ? "*" : "", state,
                        store.directory(for: entry, kind: catalog.kind).path,
                    ])
                }
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                let cells = zip(row, widths).map { cell, width in
                    cell.padding(toLength: width, withPad: " ", startingAt: 0)
                }
                print(cells.joined(separator: "  ").trimmingSuffix(" "))
            }
        }
    }
}

extension ModelKind: ExpressibleByArgument {}

extension String {
    fileprivate func trimmingSuffix(_ character: Character) -> String {
        var text = self
        while text.last == character { text.removeLast() }
        return text
    }
}
