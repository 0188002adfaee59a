// harkd's choice of language model: the in-process runtime (`--llm MODEL`, the catalog's default unless `off`) or
// an OpenAI-compatible server (`--llm-url`, which wins when given), the backend the in-process model runs on, the
// `--check` line about it, and the HTTP chat service on the same loaded weights.

import ArgumentParser
import Compute
import SpeechPipeline
import SpeechServers

/// The command-line options about the language model.
struct LanguageModelOptions: ParsableArguments {
    @Option(
        name: .customLong("llm"),
        help: "In-process language model: a catalog name or a .gguf file (default: the catalog's), or 'off'.")
    var model: String?

    @Option(help: "OpenAI-compatible server for other questions, used instead of the in-process model.")
    var llmURL: String?

    @Option(help: "Model name sent to the language-model server.")
    var llmModel: String?

    @Option(
        help: """
            Compute backend of the models: cpu, or rknpu (RK3588 NPU through librknnrt.so, or the library \
            HARK_RKNN_LIB names) for the Piper decoder, Whisper, the VAD and the in-process language model; the Piper \
            encoder stays on the CPU, and ops the backend declines run there.
            """)
    var backend: String?

    func validate() throws {
        if let backend, !ComputeEngine.backendNames.contains(backend) {
            throw ValidationError(
                "unknown backend '\(backend)' (available: \(ComputeEngine.backendNames.joined(separator: ", ")))")
        }
    }

    /// Applies the options over the config file's settings.
    func apply(to settings: inout PipelineConfiguration) {
        if let backend { settings.backend = backend }
        apply(to: &settings.llm)
    }

    /// Applies the options about the language model over the config file's settings.
    func apply(to llm: inout PipelineConfiguration.LLMSettings) {
        if let model {
            llm.enabled = model != "off"
            if model != "off" { llm.localModel = model }
        }
        if let llmURL {
            llm.url = llmURL.isEmpty ? nil : llmURL
            if !llmURL.isEmpty { llm.enabled = true }
        }
        if let llmModel { llm.model = llmModel }
        if let backend { llm.backend = backend }
    }
}

enum LanguageModelChoice {
    /// `harkd --check`'s line about the language model (the in-process model is reported with the models).
    static func check(_ llm: PipelineConfiguration.LLMSettings) async -> String? {
        guard llm.enabled, let url = llm.url, !url.isEmpty else { return nil }
        let client = OpenAIChatClient(url: url, model: llm.model, timeout: .seconds(3))
        do {
            try await client.checkReachable()
            return "ok: language model at \(client.endpoint)"
        } catch {
            // Not fatal: the daemon runs, and answers other questions with an apology until the server is up.
            return "warning: language model: \(error) (other questions get an apology until it answers)"
        }
    }

    /// `POST /v1/chat/completions` on the loaded model's weights (a session of its own, so the assistant's
    /// conversation stays cached); nil when no model is loaded in-process.
    static func chatService(_ models: PipelineModels, queueDepth: Int, retryAfter: Int) throws -> (any ChatService)? {
        guard let model = models.languageModel else { return nil }
        return LanguageModelChatService(
            session: try model.makeSession(), name: model.name,
            queue: ModelQueue(name: model.name, depth: queueDepth, retryAfter: retryAfter))
    }
}
