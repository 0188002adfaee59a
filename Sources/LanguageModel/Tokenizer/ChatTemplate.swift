// Chat prompts in the formats models are trained on. The GGUF's `tokenizer.chat_template` is a Jinja template
// (https://huggingface.co/docs/transformers/chat_templating); rather than run Jinja, this recognises the known
// families by their markers, as llama.cpp's `llm_chat_detect_template` does
// (https://github.com/ggml-org/llama.cpp/blob/master/src/llama-chat.cpp), and renders each the way its
// published template does under jinja2 (llama-cpp-python's `Jinja2ChatFormatter`).

import Foundation
import Logging
import Tensors

/// One message of a conversation: the type every part of Hark that talks to a model uses (the templates here,
/// the assistant, the OpenAI clients and servers), so its roles are the chat roles and nothing else.
public struct ChatMessage: Codable, Sendable, Hashable {
    /// Who speaks (OpenAI's chat roles, which every template family knows).
    public enum Role: String, Codable, Sendable, Hashable, CaseIterable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public init(_ role: Role, _ content: String) {
        self.init(role: role, content: content)
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}

/// Renders a conversation into the prompt text a model's chat template describes.
public struct ChatTemplate: Codable, Sendable, Hashable {
    /// The template families Hark reproduces.
    public enum Family: String, Codable, Sendable, Hashable {
        /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM, Qwen, Hermes…).
        case chatML
        /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>` (Llama 3).
        case llama3
        /// Llama 3 turns after a system turn that always opens with "Cutting Knowledge Date: December 2023" and
        /// "Today Date: …" (Llama 3.1, 3.2 and 3.3 without tools).
        case llama31
        /// `[INST] <<SYS>>\n…\n<</SYS>>\n\n… [/INST]` (Llama 2).
        case llama2
        /// ` [INST] … [/INST]` with the system prompt folded into the first user turn (Mistral v1).
        case mistral
        /// `<start_of_turn>user\n…<end_of_turn>\n`, the assistant as "model" (Gemma).
        case gemma
        /// `<|user|>\n…</s>\n` (Zephyr).
        case zephyr
        /// `<|user|>\n…<|end|>\n` (Phi-3).
        case phi3
    }

    public var family: Family
    /// The system prompt the template inserts when the conversation has none (SmolLM2's "You are a helpful AI
    /// assistant named SmolLM…"); nil when it inserts none.
    public var defaultSystemPrompt: String?
    /// The texts of the BOS and EOS tokens, which some templates write (`bos_token`, `eos_token`).
    public var bos: String
    public var eos: String
    /// Llama 3.1+: the "Today Date" line's date ("26 Jul 2024"); nil for the day of rendering, as templates that
    /// call `strftime_now("%d %b %Y")` get it.
    public var dateString: String?

    public init(
        family: Family, defaultSystemPrompt: String? = nil, bos: String = "", eos: String = "",
        dateString: String? = nil
    ) {
        self.family = family
        self.defaultSystemPrompt = defaultSystemPrompt
        self.bos = bos
        self.eos = eos
        self.dateString = dateString
    }

    /// The family `template` belongs to, recognised by its markers; ChatML, with a warning, when there is no
    /// template or it is none of the known ones.
    public init(template: String?, bos: String = "", eos: String = "", logger: Logger = Self.logger) {
        self.bos = bos
        self.eos = eos
        guard let template, !template.isEmpty else {
            logger.warning("the model has no chat template; using ChatML")
            family = .chatML
            return
        }
        if template.contains("<|im_start|>") {
            family = .chatML
            defaultSystemPrompt = Self.literal(in: template, after: "<|im_start|>system", before: "<|im_end|>")
        } else if template.contains("<|start_header_id|>") && template.contains("Cutting Knowledge Date") {
            family = .llama31
            // Llama 3.1's template fixes the date; 3.2's asks for today's.
            dateString = template.contains("strftime_now") ? nil : "26 Jul 2024"
        } else if template.contains("<|start_header_id|>") {
            family = .llama3
        } else if template.contains("<start_of_turn>") {
            family = .gemma
        } else if template.contains("<|end|>") {
            family = .phi3
        } else if template.contains("<|user|>") {
            family = .zephyr
        } else if template.contains("<<SYS>>") {
            family = .llama2
        } else if template.contains("[INST]") {
            family = .mistral
        } else {
            logger.warning("unrecognised chat template; using ChatML")
            family = .chatML
        }
    }

    /// The chat template of a GGUF (`tokenizer.chat_template`), with its tokenizer's BOS and EOS texts.
    public init(_ gguf: GGUFFile, tokenizer: Tokenizer, logger: Logger = Self.logger) {
        self.init(
            template: gguf["tokenizer.chat_template"]?.string,
            bos: tokenizer.bos.flatMap(tokenizer.text(of:)) ?? "",
            eos: tokenizer.eos.flatMap(tokenizer.text(of:)) ?? "", logger: logger)
    }

    public static let logger = Logger(label: "hark.chat-template")

    /// The prompt for `messages`; with `addGenerationPrompt`, ending with the header of the assistant's turn.
    /// Encode it with `parseSpecial: true` so its markers become their special tokens.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch family {
        case .chatML:
            if let defaultSystemPrompt, let first = messages.first, first.role != .system {
                out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bos }
                out += "<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n\(Self.trim(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .llama31:
            let (system, turns) = Self.splitSystem(messages)
            out += bos + "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            out += "Today Date: \(dateString ?? Self.today())\n\n\(Self.trim(system ?? ""))<|eot_id|>"
            for m in turns {
                out += "<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n\(Self.trim(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .llama2:
            let (system, turns) = Self.splitSystem(messages)
            for (i, m) in turns.enumerated() {
                var content = m.content
                if i == 0, let system { content = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + content }
                if m.role == .user {
                    out += bos + "[INST] \(Self.trim(content)) [/INST]"
                } else if m.role == .assistant {
                    out += " \(Self.trim(content)) " + eos
                }
            }
        case .mistral:
            let (system, turns) = Self.splitSystem(messages)
            out += bos
            for (i, m) in turns.enumerated() {
                if m.role == .user {
                    let prefix = i == 0 ? system.map { $0 + "\n\n" } ?? "" : ""
                    out += " [INST] \(prefix)\(m.content) [/INST]"
                } else if m.role == .assistant {
                    out += " \(m.content)" + eos
                }
            }
        case .gemma:
            let (system, turns) = Self.splitSystem(messages)
            out += bos
            for (i, m) in turns.enumerated() {
                let role = m.role == .assistant ? "model" : m.role.rawValue
                let prefix = i == 0 ? system.map { $0 + "\n\n" } ?? "" : ""
                out += "<start_of_turn>\(role)\n\(prefix)\(Self.trim(m.content))<end_of_turn>\n"
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        case .zephyr:
            for (i, m) in messages.enumerated() {
                out += "<|\(m.role.rawValue)|>\n\(m.content)\(eos)\n"
                if i == messages.count - 1 && addGenerationPrompt { out += "<|assistant|>\n" }
            }
        case .phi3:
            for m in messages {
                if m.role == .system && m.content.isEmpty { continue }
                out += "<|\(m.role.rawValue)|>\n\(m.content)<|end|>\n"
            }
            out += addGenerationPrompt ? "<|assistant|>\n" : eos
        }
        return out
    }

    /// Today's date as `strftime("%d %b %Y")` writes it in the C locale ("05 Mar 2026").
    static func today() -> String {
        let parts = Calendar.current.dateComponents([.day, .month, .year], from: Date())
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = parts.day ?? 1
        return "\(day < 10 ? "0" : "")\(day) \(months[((parts.month ?? 1) - 1) % 12]) \(parts.year ?? 1970)"
    }

    /// A leading system message, and the rest.
    private static func splitSystem(_ messages: [ChatMessage]) -> (String?, ArraySlice<ChatMessage>) {
        if let first = messages.first, first.role == .system { return (first.content, messages.dropFirst()) }
        return (nil, messages[...])
    }

    /// Jinja's `trim` (Python's `str.strip()`): whitespace off both ends.
    static func trim(_ text: String) -> String {
        let isSpace = { (s: Unicode.Scalar) in s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }

    /// The literal text a template writes between `marker` + a newline and `end`, when it is plain text (no
    /// Jinja expression in between), with Jinja string escapes resolved.
    static func literal(in template: String, after marker: String, before end: String) -> String? {
        var rest = template[...]
        while let found = rest.firstRange(of: marker) {
            rest = rest[found.upperBound...]
            var body = rest
            if body.hasPrefix("\n") {
                body = body.dropFirst()
            } else if body.hasPrefix("\\n") {
                body = body.dropFirst(2)
            } else {
                continue
            }
            guard let close = body.firstRange(of: end) else { continue }
            let raw = body[..<close.lowerBound]
            // A variable or a string break means the prompt is the conversation's own, not a default.
            if raw.isEmpty || raw.contains("{") || raw.contains("'") || raw.contains("\"") { continue }
            return unescape(String(raw))
        }
        return nil
    }

    private static func unescape(_ text: String) -> String {
        var out = ""
        var escaping = false
        for c in text {
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
