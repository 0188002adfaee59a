import Foundation
import Tensors
import Testing

@testable import LanguageModel

@Suite("Chat templates render as jinja2 renders the published templates")
struct ChatTemplateTests {
    @Test("every reference conversation renders exactly, for SmolLM2's own template and the other families")
    func rendersLikeJinja() throws {
        let reference = try TokenizerReference.shared.get()
        #expect(reference.chats.count >= 30)
        for chat in reference.chats {
            var template = ChatTemplate(template: chat.template, bos: chat.bos, eos: chat.eos)
            // The reference fixes Llama 3.2's "Today Date" (which is otherwise the day of rendering).
            if template.family == .llama31 { template.dateString = "26 Jul 2024" }
            let prompt = template.render(chat.messages, addGenerationPrompt: chat.addGenerationPrompt)
            #expect(prompt == chat.prompt, "\(chat.family), generation prompt \(chat.addGenerationPrompt)")
        }
    }

    @Test("families are recognised by their markers")
    func families() throws {
        let reference = try TokenizerReference.shared.get()
        let expected: [String: ChatTemplate.Family] = [
            "gguf": .chatML, "llama3": .llama3, "llama2": .llama2, "mistral": .mistral, "gemma": .gemma,
            "zephyr": .zephyr, "phi3": .phi3, "llama32": .llama31,
        ]
        for chat in reference.chats {
            #expect(ChatTemplate(template: chat.template).family == expected[chat.family], "\(chat.family)")
        }
    }

    @Test("SmolLM2's template from the GGUF inserts its default system prompt")
    func smolLM2FromGGUF() throws {
        let gguf = try TokenizerReference.gguf.get()
        let tokenizer = try TokenizerReference.smolLM2.get()
        let template = ChatTemplate(gguf, tokenizer: tokenizer)
        #expect(template.family == .chatML)
        #expect(template.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let prompt = template.render([.user("Hi")])
        #expect(prompt.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"))
        #expect(template.render([.system("Be brief."), .user("Hi")]).hasPrefix("<|im_start|>system\nBe brief."))
        // The rendered prompt's markers become single special tokens.
        let ids = tokenizer.encode(prompt)
        #expect(ids.first == tokenizer.id(of: "<|im_start|>"))
        #expect(ids.filter { $0 == tokenizer.id(of: "<|im_end|>") }.count == 2)
    }

    @Test("Llama 3.2 dates its system turn today unless told otherwise")
    func llama32Date() throws {
        let chat = try #require(try TokenizerReference.shared.get().chats.first { $0.family == "llama32" })
        let template = ChatTemplate(template: chat.template, bos: chat.bos, eos: chat.eos)
        #expect(template.dateString == nil)
        #expect(template.render([.user("Hi")]).contains("Today Date: \(ChatTemplate.today())\n\n"))
        #expect(ChatTemplate.today().count == 11)
    }

    @Test("no template falls back to ChatML without a system prompt")
    func fallback() {
        let template = ChatTemplate(template: nil)
        #expect(template.family == .chatML)
        #expect(template.defaultSystemPrompt == nil)
        #expect(template.render([.user("Hi")]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("messages encode and decode as JSON")
    func codable() throws {
        let message = ChatMessage.assistant("On it.")
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(ChatMessage.self, from: data) == message)
    }
}
