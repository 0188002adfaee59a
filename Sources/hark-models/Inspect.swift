import ArgumentParser
import Foundation
import ModelStore
import Tensors

extension HarkModels {
    /// `hark-models inspect NAME|PATH`: opens a model file with Hark's own reader and lists its tensors.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a model with Hark's reader (ONNX, CTranslate2 or GGUF) and list its tensors.",
            discussion: """
                NAME is a catalog model (installed); PATH is a .onnx file, a CTranslate2 folder or model.bin, \
                or a .gguf file. The format comes from the file, not from its name.
                """)

        @Argument(help: "A catalog model name, or the path of a model file or folder.")
        var model: String

        @Option(name: .shortAndLong, help: "List at most this many tensors (0: all).")
        var limit: Int = 0

        func run() throws {
            let location = try locate()
            let rows: [(String, String, [Int], Int)]
            let start = DispatchTime.now().uptimeNanoseconds
            var header: [String] = []
            switch location.pathExtension {
            case "onnx":
                let onnx = try ONNXModel(path: location.path)
                let g = onnx.graph
                header = [
                    "ONNX ir_version \(onnx.irVersion), opset \(onnx.opsetVersion.map(String.init) ?? "?"), "
                        + "producer \(onnx.producerName) \(onnx.producerVersion)",
                    "graph '\(g.name)': \(g.nodes.count) nodes, \(g.initializers.count) initializers, "
                        + "\(g.constants.count) constants; inputs \(g.inputs.map(\.name)), outputs \(g.outputs.map(\.name))",
                ]
                rows = g.allTensors.map { ($0.name, $0.dtype.rawValue, $0.shape, $0.byteCount) }
            case "gguf":
                let gguf = try GGUFFile(path: location.path)
                let arch = gguf["general.architecture"]?.string ?? "?"
                header = [
                    "GGUF v\(gguf.version), architecture \(arch), \(gguf.metadata.count) metadata keys, "
                        + "alignment \(gguf.alignment), data at byte \(gguf.dataOffset)"
                ]
                rows = gguf.tensors.map { ($0.name, $0.dtype.rawValue, $0.shape, $0.byteCount) }
            case _ where isCTranslate2(location):
                let ct2 = try CTranslate2Model(path: location.path)
                header = [
                    "CTranslate2 binary v\(ct2.binaryVersion), \(ct2.specName) revision \(ct2.specRevision), "
                        + "\(ct2.variables.count) variables, aliases \(ct2.aliases.map { "\($0.name) → \($0.target)" })"
                ]
                rows = ct2.variables.map { ($0.name, $0.dtype.rawValue, $0.shape, $0.byteCount) }
            default:
                throw ValidationError(
                    "\(location.path) is not a model Hark reads: expected a .onnx file, a .gguf file, "
                        + "or a CTranslate2 folder (or its model.bin)")
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            print(location.path)
            for line in header { print(line) }
            let total = rows.reduce(0) { $0 + $1.3 }
            print("\(rows.count) tensors, \(total) bytes, opened in \(String(format: "%.1f", elapsed)) ms\n")
            let shown = limit > 0 ? Array(rows.prefix(limit)) : rows
            let width = min(72, shown.map(\.0.count).max() ?? 0)
            for (name, dtype, shape, bytes) in shown {
                let padded = name.count >= width ? name : name + String(repeating: " ", count: width - name.count)
                print("\(padded)  \(dtype.padding(toLength: 5, withPad: " ", startingAt: 0))  \(shape)  \(bytes) B")
            }
            if shown.count < rows.count { print("… \(rows.count - shown.count) more (use --limit 0 for all)") }
        }

        private func isCTranslate2(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return false }
            return isDirectory.boolValue || url.pathExtension == "bin"
        }

        /// A path as given, else the installed catalog model's file or folder.
        private func locate() throws -> URL {
            if FileManager.default.fileExists(atPath: model) {
                let url = URL(fileURLWithPath: model)
                return url
            }
            return try ModelStore().installedModel(named: model).location
        }
    }
}
