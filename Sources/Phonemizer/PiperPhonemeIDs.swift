// PiperPhonemeIDs: Piper's rule from phonemes to the ids a voice's model reads.
//
// Follows piper1-gpl's src/piper/phoneme_ids.py (`phonemes_to_ids`: `^ _ (p _)* $`, unknown phonemes skipped with a
// warning) and src/piper/phonemize_espeak.py (NFD, one code point per phoneme, vowel clusters), plus
// piper-phonemize's `phoneme_map` (src/phonemize.cpp), which piper1-gpl's Python does not apply.
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/phoneme_ids.py

import Foundation

/// A sentence's phoneme ids and the phonemes that had none.
public struct PhonemeIDs: Sendable, Hashable {
    /// `^ _ (p _)* $` through the voice's map: the model's input for one sentence.
    public var ids: [Int]
    /// The phonemes the map has no id for, in order (each skipped, as Piper skips them).
    public var skipped: [String]

    /// Makes the value.
    public init(ids: [Int], skipped: [String]) {
        self.ids = ids
        self.skipped = skipped
    }
}

/// A voice's phoneme-to-id rules: a plain value built from its `phoneme_id_map` and `phoneme_map`.
///
/// Phonemes are compared code point by code point (Piper's Python compares `str` values), never by Swift's
/// canonical equivalence.
public struct PiperPhonemeIDs: Sendable, Equatable {
    /// Phoneme (its code points) to ids.
    private let idMap: [[Unicode.Scalar]: [Int]]
    /// Code point to replacement phonemes.
    private let phonemeMap: [Unicode.Scalar: [String]]
    /// Runs of phonemes merged into one, longest first.
    private let vowelClusters: [[String]]
    private let start: [Int]
    private let pad: [Int]
    private let end: [Int]

    /// Builds the rules from a voice's maps.
    ///
    /// - Throws: `PhonemizerError.invalidVoiceConfig` when `phonemeIDMap` lacks `^`, `_` or `$`, or a `phonemeMap`
    ///   key is not a single code point.
    public init(phonemeIDMap: [String: [Int]], phonemeMap: [String: [String]] = [:], vowelClusters: [[String]] = [])
        throws(PhonemizerError)
    {
        var idMap: [[Unicode.Scalar]: [Int]] = [:]
        for (phoneme, ids) in phonemeIDMap { idMap[Array(phoneme.unicodeScalars)] = ids }
        guard let start = idMap[["^"]], let pad = idMap[["_"]], let end = idMap[["$"]] else {
            throw PhonemizerError.invalidVoiceConfig("phoneme_id_map needs the ids of ^, _ and $")
        }
        var map: [Unicode.Scalar: [String]] = [:]
        for (phoneme, replacement) in phonemeMap {
            let scalars = Array(phoneme.unicodeScalars)
            guard scalars.count == 1 else {
                throw PhonemizerError.invalidVoiceConfig("phoneme_map key '\(phoneme)' is not a single code point")
            }
            map[scalars[0]] = replacement
        }
        self.idMap = idMap
        self.phonemeMap = map
        self.vowelClusters = vowelClusters.filter { $0.count > 1 }.sorted { $0.count > $1.count }
        self.start = start
        self.pad = pad
        self.end = end
    }

    /// Builds the rules of a voice.
    public init(config: PiperPhonemeConfig) throws(PhonemizerError) {
        try self.init(
            phonemeIDMap: config.phonemeIDMap, phonemeMap: config.phonemeMap, vowelClusters: config.vowelClusters)
    }

    /// Splits IPA into Piper's phonemes: NFD, one code point each, `phoneme_map` applied, vowel clusters merged.
    public func phonemes(fromIPA ipa: String) -> [String] {
        var phonemes: [String] = []
        for scalar in ipa.decomposedStringWithCanonicalMapping.unicodeScalars {
            if let replacement = phonemeMap[scalar] {
                phonemes.append(contentsOf: replacement)
            } else {
                phonemes.append(String(scalar))
            }
        }
        return mergingVowelClusters(phonemes)
    }

    /// Piper's ids for a sentence's phonemes: `^ _ (p _)* $`. Phonemes the map lacks are skipped, listed in the
    /// result and logged as a warning.
    public func ids(for phonemes: [String]) -> PhonemeIDs {
        var ids = start + pad
        ids.reserveCapacity(2 * phonemes.count + 3)
        var skipped: [String] = []
        for phoneme in phonemes {
            guard let phonemeIDs = idMap[Array(phoneme.unicodeScalars)] else {
                skipped.append(phoneme)
                continue
            }
            ids += phonemeIDs
            ids += pad
        }
        ids += end
        if !skipped.isEmpty {
            let listed = skipped.map { phoneme in
                phoneme.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(
                    separator: " ")
            }
            logger.warning(
                "phonemes missing from the voice's id map were skipped",
                metadata: ["phonemes": "\(skipped)", "codePoints": "\(listed)"])
        }
        return PhonemeIDs(ids: ids, skipped: skipped)
    }

    /// `phonemes(fromIPA:)` then `ids(for:)`.
    public func ids(forIPA ipa: String) -> PhonemeIDs {
        ids(for: phonemes(fromIPA: ipa))
    }

    /// piper1-gpl's `_merge_known_vowel_clusters`: at each phoneme, the longest cluster starting there is merged.
    func mergingVowelClusters(_ phonemes: [String]) -> [String] {
        guard let longest = vowelClusters.first?.count else { return phonemes }
        var merged: [String] = []
        var index = 0
        while index < phonemes.count {
            let room = min(longest, phonemes.count - index)
            let match = vowelClusters.first { cluster in
                cluster.count <= room
                    && zip(cluster, phonemes[index...]).allSatisfy {
                        $0.unicodeScalars.elementsEqual($1.unicodeScalars)
                    }
            }
            if let match {
                merged.append(match.joined())
                index += match.count
            } else {
                merged.append(phonemes[index])
                index += 1
            }
        }
        return merged
    }
}
