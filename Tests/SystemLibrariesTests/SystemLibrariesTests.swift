import CALSA
import CEspeakNG
import COpenBLAS
import CSndFile
import CSoxr
import Testing

/// One call into each C library: proves its module map imports and that pkg-config found a library to link.
@Suite("System libraries link and answer")
struct SystemLibrariesTests {
    @Test("ALSA reports its version")
    func alsa() throws {
        let version = String(cString: try #require(snd_asoundlib_version()))
        #expect(version.first?.isNumber == true, "\(version)")
    }

    @Test("libsndfile reports its version")
    func sndfile() throws {
        let version = String(cString: try #require(sf_version_string()))
        #expect(version.hasPrefix("libsndfile-"), "\(version)")
    }

    @Test("libsoxr reports its version")
    func soxr() throws {
        let version = String(cString: try #require(soxr_version()))
        #expect(version.hasPrefix("libsoxr-"), "\(version)")
    }

    @Test("espeak-ng reports its version without being initialised")
    func espeak() throws {
        let version = String(cString: try #require(espeak_Info(nil)))
        #expect(version.first?.isNumber == true, "\(version)")
    }

    @Test("OpenBLAS reports its build and multiplies two matrices")
    func openBLAS() throws {
        let config = String(cString: try #require(openblas_get_config()))
        #expect(config.contains("OpenBLAS"), "\(config)")

        // [2, 3] x [3, 2], row-major.
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
        #expect(c == [58, 64, 139, 154])
    }
}
