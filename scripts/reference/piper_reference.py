#!/usr/bin/env python3
"""Reference waveforms of a Piper voice from onnxruntime, for Hark's Piper exactness tests.

Runs the voice's .onnx on each phoneme-id sequence with scales [noise_scale, length_scale, noise_w] =
[0, LENGTH_SCALE, 0]: with both noise scales 0 the graph's two RandomNormalLike draws are multiplied by 0, so the
output is deterministic and comparable sample by sample. Writes each waveform as raw little-endian float32
(<out>/<n>.f32, n = the sequence's index) and an index, <out>/index.json:
    {"model": ..., "onnxruntime": ..., "length_scale": ..., "sequences": [{"index": n, "ids": [...],
     "samples": N, "file": "n.f32"}, ...]}

Input: a JSON file holding a list of id lists (or {"sequences": [[...], ...]}).

    .venv/bin/python scripts/reference/piper_reference.py \
        --model ~/.local/share/hark/voices/en_US-joe-medium/en_US-joe-medium.onnx \
        --sequences ids.json --out /tmp/piper-ref [--length-scale 1.0] [--speaker 0]
"""
import argparse
import json
import pathlib

import numpy as np
import onnxruntime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the voice's .onnx file")
    parser.add_argument("--sequences", required=True, help="JSON list of phoneme-id lists")
    parser.add_argument("--out", required=True, help="folder for <n>.f32 and index.json")
    parser.add_argument("--length-scale", type=float, default=1.0)
    parser.add_argument("--speaker", type=int, default=0, help="speaker id for multi-speaker voices")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    args = parser.parse_args()

    loaded = json.loads(pathlib.Path(args.sequences).read_text())
    sequences = loaded["sequences"] if isinstance(loaded, dict) else loaded
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    options = onnxruntime.SessionOptions()
    if args.threads > 0:
        options.intra_op_num_threads = args.threads
    session = onnxruntime.InferenceSession(args.model, sess_options=options, providers=["CPUExecutionProvider"])
    input_names = {i.name for i in session.get_inputs()}

    index = {"model": args.model, "onnxruntime": onnxruntime.__version__, "length_scale": args.length_scale,
             "sequences": []}
    for n, ids in enumerate(sequences):
        feeds = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([0.0, args.length_scale, 0.0], dtype=np.float32),
        }
        if "sid" in input_names:
            feeds["sid"] = np.array([args.speaker], dtype=np.int64)
        audio = session.run(None, feeds)[0].astype("<f4").reshape(-1)
        name = f"{n}.f32"
        (out / name).write_bytes(audio.tobytes())
        index["sequences"].append({"index": n, "ids": list(ids), "samples": int(audio.size), "file": name})
    (out / "index.json").write_text(json.dumps(index))


if __name__ == "__main__":
    main()
