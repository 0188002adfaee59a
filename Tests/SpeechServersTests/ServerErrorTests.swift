import SpeechServers
import Testing

@Test func busyNamesTheRetryDelay() {
    #expect(ServerError.busy(retryAfter: 3).description.contains("3 s"))
}
