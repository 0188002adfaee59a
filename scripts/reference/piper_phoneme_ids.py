#!/usr/bin/env python3
"""Reference phonemes and phoneme ids of piper-tts (1.8.0) for Hark's phonemizer tests.

For each line of a corpus, runs piper-tts's own text-to-ids path with a voice's configuration:
PiperVoice.phonemize (its bundled espeak-ng through piper.espeakbridge, `[[ raw phonemes ]]`, sentence
splitting) and PiperVoice.phonemes_to_ids, keeping the sentences synthesis would run (non-empty ones).
The voice's .onnx.json is all it needs; the ONNX model is not loaded.

Corpus format: one text per line; blank lines are skipped; a literal backslash-n (\\n) in a line stands for
a newline, so paragraphs (blank lines inside a text) fit on one line.

Output (JSON): {"piper_tts", "config", "espeak_voice", "lines": [{"text", "sentences": [{"phonemes", "ids"}]}]},
one line of JSON per corpus line.

Run it in a venv with piper-tts (scripts/reference-env makes .venv/ with it), for example:
    python3 -m venv /tmp/piper-venv && /tmp/piper-venv/bin/pip install piper-tts==1.8.0
    /tmp/piper-venv/bin/python scripts/reference/piper_phoneme_ids.py \\
        --corpus Tests/PhonemizerTests/Fixtures/corpus.txt \\
        --out Tests/PhonemizerTests/Fixtures/piper-1.8.0-ids.json \\
        --config-out Tests/PhonemizerTests/Fixtures/joe-phoneme-config.json
"""
import argparse
import json
import pathlib
import sys
from importlib.metadata import version

from piper.config import PiperConfig
from piper.voice import PiperVoice

DEFAULT_CONFIG = "~/.local/share/hark/voices/en_US-joe-medium/en_US-joe-medium.onnx.json"


def corpus_lines(path):
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield line.replace("\\n", "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="corpus file, one text per line")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="the voice's .onnx.json")
    parser.add_argument("--out", help="where to write the JSON (default: standard output)")
    parser.add_argument("--config-out", help="also write the voice's phonemization settings here (JSON)")
    args = parser.parse_args()

    config_path = pathlib.Path(args.config).expanduser()
    config_dict = json.loads(config_path.read_text(encoding="utf-8"))
    # Phonemizing needs only the configuration, so no ONNX session is made.
    voice = PiperVoice(session=None, config=PiperConfig.from_dict(config_dict))

    lines = []
    for text in corpus_lines(args.corpus):
        sentences = []
        for phonemes in voice.phonemize(text):
            if not phonemes:
                continue  # PiperVoice.synthesize skips empty sentences
            sentences.append({"phonemes": "".join(phonemes), "ids": voice.phonemes_to_ids(phonemes)})
        lines.append({"text": text, "sentences": sentences})

    header = {"piper_tts": version("piper-tts"), "config": config_path.name, "espeak_voice": voice.config.espeak_voice}
    body = ",\n".join("  " + json.dumps(line, ensure_ascii=False, separators=(",", ":")) for line in lines)
    document = json.dumps(header, ensure_ascii=False)[:-1] + ', "lines": [\n' + body + "\n]}\n"
    if args.out:
        pathlib.Path(args.out).write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document)

    if args.config_out:
        keys = ["espeak", "phoneme_type", "phoneme_map", "phoneme_id_map"]
        subset = {key: config_dict[key] for key in keys if key in config_dict}
        subset["source"] = config_path.name
        pathlib.Path(args.config_out).write_text(
            json.dumps(subset, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    sentence_count = sum(len(line["sentences"]) for line in lines)
    print(f"{len(lines)} lines, {sentence_count} sentences", file=sys.stderr)


if __name__ == "__main__":
    main()
