/// Where the assistant is in one exchange.
public enum PipelineState: String, Sendable, Codable, Hashable {
    case listening, transcribing, thinking, speaking
}
