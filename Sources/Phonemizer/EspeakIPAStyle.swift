// EspeakIPAStyle: writing Debian's espeak-ng 1.51 IPA the way the espeak-ng bundled with piper-tts 1.8.0 writes it.
//
// piper-tts 1.8.0 bundles espeak-ng at commit 724808c (2026-04-06, piper1-gpl CMakeLists.txt). Two of its changes
// since 1.51 alter the IPA of common English words; both are about how a phoneme is *written*, not which phonemes
// espeak-ng chooses, so they can be redone from 1.51's output once each IPA phoneme is known by its mnemonic:
// - espeak-ng 8afe77ba (2024-12-17, "Avoid underflowing ph_list3") stopped `WritePhMnemonic` from looking at the
//   previous phoneme, so the linking-j phoneme `;` after an i-vowel, which phsource/phonemes hides in IPA
//   (`IF prevPh(#i) THEN ipa NULL`), is now written `ʲ` ("the end" → ðɪʲ ˈɛnd); the flap `*` after `@-`
//   (`IF prevPhW(@-) THEN ipa r`) is likewise always `ɾ` now.
// - espeak-ng 5b01dd86 (2024-04-30, "Implement horse-hoarse merger for en-US") writes phsource/ph_english_us's
//   `o@` as `ɔːɹ` instead of `oːɹ` ("four" → fˈɔːɹ).
// https://github.com/espeak-ng/espeak-ng/commit/8afe77ba8ea31fbe13432360c47bc8b386e62819
// https://github.com/espeak-ng/espeak-ng/commit/5b01dd86

/// Which espeak-ng's way of writing IPA the phonemizer reproduces.
public enum EspeakIPAStyle: Sendable, Hashable {
    /// As the espeak-ng bundled with piper-tts 1.8.0 writes it (the reference runtime's phonemes): Debian's 1.51
    /// output with the two later changes to how IPA is written redone (see the file header). Costs a second
    /// translation pass in espeak-ng's mnemonics.
    case piperTTS
    /// Exactly what the installed espeak-ng library writes.
    case systemLibrary
}

/// Rewrites one clause of 1.51's IPA with its mnemonic twin, as the newer espeak-ng would have written it.
enum EspeakIPARewriter {
    /// The rewritten clause without phoneme separators, or nil when the two passes do not line up phoneme for
    /// phoneme (the caller then keeps the IPA as it is).
    ///
    /// - Parameters:
    ///   - ipa: the clause in IPA, phonemes separated by `EspeakLibrary.separator`.
    ///   - mnemonics: the same clause in espeak-ng's mnemonics, separated the same way.
    ///   - americanEnglish: whether the voice uses the `en-us` phoneme table (the one the horse–hoarse merger
    ///     changed).
    static func rewrite(ipa: String, mnemonics: String, americanEnglish: Bool) -> String? {
        // Split on scalars, not characters: a separator must never merge with a following mark.
        let separator = EspeakLibrary.separator
        let ipaWords = ipa.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false)
        let mnemonicWords = mnemonics.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false)
        guard ipaWords.count == mnemonicWords.count else { return nil }
        var words: [String] = []
        words.reserveCapacity(ipaWords.count)
        for (ipaWord, mnemonicWord) in zip(ipaWords, mnemonicWords) {
            let ipaPhonemes = ipaWord.split(separator: separator, omittingEmptySubsequences: false)
            let mnemonicPhonemes = mnemonicWord.split(separator: separator, omittingEmptySubsequences: false)
            guard ipaPhonemes.count == mnemonicPhonemes.count else { return nil }
            var word = ""
            for (phoneme, mnemonic) in zip(ipaPhonemes, mnemonicPhonemes) {
                word += rewrite(
                    phoneme: String(Substring(phoneme)), mnemonic: String(Substring(mnemonic)),
                    americanEnglish: americanEnglish)
            }
            words.append(word)
        }
        return words.joined(separator: " ")
    }

    /// One phoneme's IPA (with its stress mark, if any) given its mnemonic (with its stress mark, if any).
    static func rewrite(phoneme: String, mnemonic: String, americanEnglish: Bool) -> String {
        let name = mnemonic.drop(while: { $0 == "'" || $0 == "," || $0 == "=" })
        switch name {
        case ";" where phoneme.isEmpty: return "ʲ"
        case "*" where phoneme == "r": return "ɾ"
        case "o@" where americanEnglish: return phoneme.replacing("oː", with: "ɔː")
        default: return phoneme
        }
    }

    /// The IPA with the phoneme separators taken out (what espeak-ng writes without a separator).
    static func removingSeparators(_ ipa: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in ipa.unicodeScalars where scalar != EspeakLibrary.separator {
            result.append(scalar)
        }
        return String(result)
    }
}
