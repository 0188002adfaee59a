import SpeechPipeline
import Testing

@Test func statesRoundTripThroughTheirNames() {
    for state in [PipelineState.listening, .transcribing, .thinking, .speaking] {
        #expect(PipelineState(rawValue: state.rawValue) == state)
    }
}
