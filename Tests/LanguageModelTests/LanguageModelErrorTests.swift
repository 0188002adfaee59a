import LanguageModel
import Testing

@Test func errorsNameTheProblem() {
    #expect(LanguageModelError.unsupportedArchitecture("mamba").description.contains("mamba"))
    #expect(LanguageModelError.promptTooLong(tokens: 9000, context: 8192).description.contains("8192"))
}
