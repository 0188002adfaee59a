/// A model file that cannot be read: truncated, corrupted, or not the format it claims to be.
///
/// Always names the file and the byte offset where reading stopped, so a user can tell a broken
/// download from a wrong file.
public struct ModelFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of the file.
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or mapped.
        case unreadable
        /// The file ends before a structure it declares.
        case truncated
        /// A magic number, version or tag does not match the format.
        case notThisFormat
        /// A field holds a value the format does not allow (a lying length, an unknown type…).
        case invalidField
        /// The file is well formed but uses something this reader does not support.
        case unsupported
    }

    public var kind: Kind
    /// Path of the file being read.
    public var file: String
    /// Byte offset in the file where the problem was found.
    public var offset: Int
    /// What was expected, in words a user understands.
    public var message: String

    public init(_ kind: Kind, file: String, offset: Int, _ message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String {
        let what =
            switch kind {
            case .unreadable: "cannot read"
            case .truncated: "truncated"
            case .notThisFormat: "not a recognised model file"
            case .invalidField: "corrupted"
            case .unsupported: "unsupported"
            }
        return "\(file): \(what) at byte \(offset): \(message)"
    }
}
