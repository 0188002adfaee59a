// PipelineState and its state machine: a value that takes what happened and returns what to do; the pipeline actor
// performs the actions (NIO's state-machine habit), so every transition is testable without audio or models.

/// Where the assistant is in one exchange.
public enum PipelineState: String, Sendable, Codable, Hashable {
    case listening, transcribing, thinking, speaking
}

/// The assistant's states and transitions: listening → transcribing → thinking → speaking → listening, with
/// barge-in (speech while speaking) and announcements (a timer firing while idle).
public struct PipelineStateMachine: Sendable, Equatable {
    /// What happened.
    public enum Input: Sendable, Equatable {
        /// The user started speaking.
        case speechStarted
        /// The user finished an utterance.
        case utteranceEnded
        /// The transcript holds a request (wake phrase satisfied).
        case requestHeard
        /// The transcript was empty, noise, or lacked the wake phrase.
        case nothingHeard
        /// The first audio of the reply reached the speaker.
        case audioStarted
        /// The reply is over (played out, or there was nothing to say).
        case replyFinished
        /// Something is due to be announced (a timer fired).
        case announcementDue
        /// The turn failed.
        case failed
    }

    /// What the owner must do.
    public enum Action: Sendable, Equatable {
        /// Nothing.
        case none
        /// Transcribe the utterance (the turn starts).
        case transcribe
        /// Work out the reply.
        case respond
        /// Stop playback at once and abandon the turn: the user is speaking.
        case bargeIn
        /// Speak the announcement.
        case announce
        /// Drop the utterance: the assistant is busy.
        case dropUtterance
        /// Keep the announcement for later: the assistant is busy.
        case deferAnnouncement
    }

    /// The current state.
    public private(set) var state: PipelineState = .listening
    /// Whether speech stops playback.
    public let bargeIn: Bool

    public init(bargeIn: Bool) {
        self.bargeIn = bargeIn
    }

    /// Takes an input and returns the action; `state` moves on.
    public mutating func handle(_ input: Input) -> Action {
        switch (state, input) {
        case (.speaking, .speechStarted):
            guard bargeIn else { return .none }
            state = .listening
            return .bargeIn
        case (_, .speechStarted):
            return .none
        case (.listening, .utteranceEnded):
            state = .transcribing
            return .transcribe
        case (_, .utteranceEnded):
            return .dropUtterance
        case (.transcribing, .requestHeard):
            state = .thinking
            return .respond
        case (.transcribing, .nothingHeard):
            state = .listening
            return .none
        case (.thinking, .audioStarted):
            state = .speaking
            return .none
        case (.thinking, .replyFinished), (.speaking, .replyFinished):
            state = .listening
            return .none
        case (.listening, .announcementDue):
            state = .speaking
            return .announce
        case (_, .announcementDue):
            return .deferAnnouncement
        case (_, .failed):
            state = .listening
            return .none
        default:
            // A late report from a turn already abandoned (barge-in) changes nothing.
            return .none
        }
    }
}
