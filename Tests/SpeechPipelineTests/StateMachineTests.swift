import SpeechPipeline
import Testing

@Suite("Pipeline state machine")
struct StateMachineTests {
    @Test("A turn goes listening → transcribing → thinking → speaking → listening")
    func turn() {
        var machine = PipelineStateMachine(bargeIn: true)
        #expect(machine.state == .listening)
        #expect(machine.handle(.speechStarted) == PipelineStateMachine.Action.none)
        #expect(machine.handle(.utteranceEnded) == .transcribe)
        #expect(machine.state == .transcribing)
        #expect(machine.handle(.requestHeard) == .respond)
        #expect(machine.state == .thinking)
        #expect(machine.handle(.audioStarted) == PipelineStateMachine.Action.none)
        #expect(machine.state == .speaking)
        #expect(machine.handle(.replyFinished) == PipelineStateMachine.Action.none)
        #expect(machine.state == .listening)
    }

    @Test("Speech while speaking barges in, unless barge-in is off")
    func bargeIn() {
        var on = PipelineStateMachine(bargeIn: true)
        _ = on.handle(.utteranceEnded)
        _ = on.handle(.requestHeard)
        _ = on.handle(.audioStarted)
        #expect(on.handle(.speechStarted) == .bargeIn)
        #expect(on.state == .listening)
        // The abandoned turn's late report changes nothing; the new utterance starts a turn.
        #expect(on.handle(.replyFinished) == PipelineStateMachine.Action.none)
        #expect(on.handle(.utteranceEnded) == .transcribe)

        var off = PipelineStateMachine(bargeIn: false)
        _ = off.handle(.utteranceEnded)
        _ = off.handle(.requestHeard)
        _ = off.handle(.audioStarted)
        #expect(off.handle(.speechStarted) == PipelineStateMachine.Action.none)
        #expect(off.state == .speaking)
        #expect(off.handle(.utteranceEnded) == .dropUtterance)
    }

    @Test("Nothing heard, failures, busy utterances and announcements")
    func otherPaths() {
        var machine = PipelineStateMachine(bargeIn: true)
        _ = machine.handle(.utteranceEnded)
        #expect(machine.handle(.utteranceEnded) == .dropUtterance)
        #expect(machine.handle(.announcementDue) == .deferAnnouncement)
        #expect(machine.handle(.nothingHeard) == PipelineStateMachine.Action.none)
        #expect(machine.state == .listening)
        #expect(machine.handle(.announcementDue) == .announce)
        #expect(machine.state == .speaking)
        #expect(machine.handle(.replyFinished) == PipelineStateMachine.Action.none)
        _ = machine.handle(.utteranceEnded)
        _ = machine.handle(.requestHeard)
        #expect(machine.handle(.failed) == PipelineStateMachine.Action.none)
        #expect(machine.state == .listening)
    }

    @Test func statesRoundTripThroughTheirNames() {
        for state in [PipelineState.listening, .transcribing, .thinking, .speaking] {
            #expect(PipelineState(rawValue: state.rawValue) == state)
        }
    }
}
