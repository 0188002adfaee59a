import ArgumentParser
import Foundation
import ModelStore

extension HarkModels {
    /// `hark-models verify [NAME...]`: every file's size and sha256 against the catalog.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the sha256 of every file of installed models against the catalogs.",
            discussion: "With no names, checks the default model of each kind. Exits 1 when any model fails.")

        @Argument(help: "Model names from the catalogs.")
        var names: [String] = []

        func run() throws {
            let store = try ModelStore()
            var failed = false
            for (kind, entry) in try targets(in: store) {
                do {
                    let model = try store.verify(entry, kind: kind)
                    let files = model.files.count == 1 ? "1 file" : "\(model.files.count) files"
                    print("\(entry.name): ok (\(files), \(megabytes(entry.totalSize)))")
                } catch {
                    failed = true
                    FileHandle.standardError.write(Data("\(error.message)\n".utf8))
                }
            }
            if failed { throw ExitCode.failure }
        }

        private func targets(in store: ModelStore) throws(ModelStoreError) -> [(ModelKind, ModelEntry)] {
            var targets: [(ModelKind, ModelEntry)] = []
            if names.isEmpty {
                for kind in ModelKind.allCases { targets.append((kind, try store.defaultEntry(kind))) }
            }
            for name in names { targets.append(try store.entry(named: name)) }
            return targets
        }

        private func megabytes(_ bytes: Int) -> String {
            let tenths = (bytes + 50_000) / 100_000
            return "\(tenths / 10).\(tenths % 10) MB"
        }
    }
}
