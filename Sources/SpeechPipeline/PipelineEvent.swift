// PipelineEvent: what the pipeline tells observers (tests, harkd --events, a future UI).

/// Timings of one turn, from the end of the user's speech (wall clock, for the logs and benchmarks). "End of speech"
/// is the endpointer's decision that the utterance ended, which comes `vad.silence` seconds after the last speech.
public struct TurnTimings: Sendable, Equatable, Codable {
    /// End of speech → transcript ready.
    public var transcript: Duration?
    /// End of speech → the intent handler's decision: a built-in intent's answer, or the request sent to the
    /// language model.
    public var intent: Duration?
    /// End of speech → the language model's first token (chat replies only).
    public var firstToken: Duration?
    /// End of speech → the first audio handed to the speaker.
    public var firstAudio: Duration?

    public init(
        transcript: Duration? = nil, intent: Duration? = nil, firstToken: Duration? = nil, firstAudio: Duration? = nil
    ) {
        self.transcript = transcript
        self.intent = intent
        self.firstToken = firstToken
        self.firstAudio = firstAudio
    }
}

/// Something that happened in the pipeline. Sample positions count 16 kHz capture samples since start.
public enum PipelineEvent: Sendable, Equatable {
    /// The state changed.
    case state(PipelineState)
    /// The user started speaking (onset) …
    case speechStarted(onset: Int)
    /// … and finished an utterance.
    case utterance(start: Int, end: Int)
    /// Whisper's transcript of the utterance.
    case transcript(String)
    /// The utterance was not for Hark (no wake phrase) or held no words.
    case ignored(String)
    /// A built-in intent was recognised.
    case intent(IntentKind)
    /// A sentence Hark is about to speak.
    case sentence(String, source: ReplySentence.Source)
    /// Playback was cut by the user's speech `latency` capture samples after its onset.
    case bargeIn(latency: Int)
    /// A timer fired.
    case timerFired(String)
    /// The turn's timings.
    case timings(TurnTimings)
    /// A recoverable failure (the pipeline goes on listening).
    case error(String)
    /// The capture input ended (end of file, or the configured length): the pipeline stops.
    case inputEnded(samples: Int)
}

extension PipelineEvent {
    /// The event as one JSON object (for `harkd --events`).
    public var json: String {
        func quote(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out +=
                            "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                            + String(scalar.value, radix: 16)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        }
        func ms(_ d: Duration?) -> String {
            guard let d else { return "null" }
            let (s, a) = d.components
            return String(Double(s) * 1000 + Double(a) / 1e15)
        }
        switch self {
        case .state(let state): return #"{"event":"state","state":\#(quote(state.rawValue))}"#
        case .speechStarted(let onset): return #"{"event":"speechStarted","onset":\#(onset)}"#
        case .utterance(let start, let end): return #"{"event":"utterance","start":\#(start),"end":\#(end)}"#
        case .transcript(let text): return #"{"event":"transcript","text":\#(quote(text))}"#
        case .ignored(let text): return #"{"event":"ignored","text":\#(quote(text))}"#
        case .intent(let kind): return #"{"event":"intent","intent":\#(quote(kind.rawValue))}"#
        case .sentence(let text, let source):
            return #"{"event":"sentence","text":\#(quote(text)),"source":\#(quote(source.rawValue))}"#
        case .bargeIn(let latency): return #"{"event":"bargeIn","latency":\#(latency)}"#
        case .timerFired(let text): return #"{"event":"timerFired","text":\#(quote(text))}"#
        case .timings(let t):
            return
                #"{"event":"timings","transcriptMs":\#(ms(t.transcript)),"intentMs":\#(ms(t.intent)),"firstTokenMs":\#(ms(t.firstToken)),"firstAudioMs":\#(ms(t.firstAudio))}"#
        case .error(let message): return #"{"event":"error","message":\#(quote(message))}"#
        case .inputEnded(let samples): return #"{"event":"inputEnded","samples":\#(samples)}"#
        }
    }
}
