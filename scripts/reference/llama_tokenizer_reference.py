#!/usr/bin/env python3
"""Reference tokenizations and chat renderings from llama.cpp (llama-cpp-python 0.3.36) and jinja2.

Usage (with the reference venv's python):
    /work/main/.venv/bin/python scripts/reference/llama_tokenizer_reference.py path/to/SmolLM2-135M-Instruct.Q4_1.gguf

Reads Tests/LanguageModelTests/Fixtures/tokenizer-corpus.json (a JSON list of texts), adds 300 seeded random
texts (`random_texts`), and writes
Tests/LanguageModelTests/Fixtures/tokenizer-smollm2.json:
  - for every corpus text: llama_tokenize(text, add_special, parse_special=True) with add_special true and false;
  - the raw bytes of every token id those contain (llama_token_to_piece with special=True), hex-encoded;
  - the same, without special tokens, for the same vocabulary under other pre-tokenizers (llama-bpe, qwen2,
    gpt-2, starcoder, and llama.cpp's default), through vocabulary-only copies of the GGUF;
  - a small SentencePiece vocabulary (`sentencepiece_vocabulary`) and llama.cpp's SPM ids for the same texts;
  - the model's bos/eos/eot ids and which ids llama.cpp treats as end of generation;
  - renderings of a few conversations through the GGUF's chat template with llama-cpp-python's own Jinja2
    formatter (the same jinja2 environment it uses for chat completion), and through a few other families'
    published templates (the ones llama.cpp's tests/test-chat-template.cpp and models/templates use).
"""

import ctypes
import json
import pathlib
import random
import struct
import sys
import tempfile

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "LanguageModelTests" / "Fixtures"

# Published chat templates of other families, rendered by jinja2 so the Swift renderer can be checked against them.
OTHER_TEMPLATES = {
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' "
        "+ message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        "<|begin_of_text|>",
        "<|eot_id|>",
    ),
    "llama2": (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
        "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
        "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
        "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() "
        "+ ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
        "{% endif %}{% endfor %}",
        "<s>",
        "</s>",
    ),
    "mistral": (
        "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n"
        "    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n"
        "{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' %}\n"
        "        {%- if loop.first and system_message is defined %}\n"
        "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
        "        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n"
        "    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n"
        "    {%- endif %}\n{%- endfor %}\n",
        "<s>",
        "</s>",
    ),
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = messages[0]['content'] + '\n\n' %}"
        "{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}"
        "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
        "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + "
        "(first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
        "<bos>",
        "<eos>",
    ),
    "zephyr": (
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
        "<s>",
        "</s>",
    ),
    "phi3": (
        "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
        "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
        "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
        "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
        "<s>",
        "<|endoftext|>",
    ),
}

# Meta's Llama 3.2 Instruct template, as llama.cpp keeps it in models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja.
LLAMA32_TEMPLATE = '{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n        {%- set date_string = strftime_now("%d %b %Y") %}\n    {%- else %}\n        {%- set date_string = "26 Jul 2024" %}\n    {%- endif %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the right place. #}\n{%- if messages[0][\'role\'] == \'system\' %}\n    {%- set system_message = messages[0][\'content\']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = "" %}\n{%- endif %}\n\n{#- System message #}\n{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}\n{%- if tools is not none %}\n    {{- "Environment: ipython\\n" }}\n{%- endif %}\n{{- "Cutting Knowledge Date: December 2023\\n" }}\n{{- "Today Date: " + date_string + "\\n\\n" }}\n{%- if tools is not none and not tools_in_user_message %}\n    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}\n    {{- \'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.\' }}\n    {{- "Do not use variables.\\n\\n" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- "\\n\\n" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}\n{{- "<|eot_id|>" }}\n\n{#- Custom tools are passed in a user message with some extra guidance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first user message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- set first_user_message = messages[0][\'content\']|trim %}\n        {%- set messages = messages[1:] %}\n    {%- else %}\n        {{- raise_exception("Cannot put tools in the first user message when there\'s no first user message!") }}\n{%- endif %}\n    {{- \'<|start_header_id|>user<|end_header_id|>\\n\\n\' -}}\n    {{- "Given the following functions, please respond with a JSON for a function call " }}\n    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}\n    {{- \'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.\' }}\n    {{- "Do not use variables.\\n\\n" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- "\\n\\n" }}\n    {%- endfor %}\n    {{- first_user_message + "<|eot_id|>"}}\n{%- endif %}\n\n{%- for message in messages %}\n    {%- if not (message.role == \'ipython\' or message.role == \'tool\' or \'tool_calls\' in message) %}\n        {{- \'<|start_header_id|>\' + message[\'role\'] + \'<|end_header_id|>\\n\\n\'+ message[\'content\'] | trim + \'<|eot_id|>\' }}\n    {%- elif \'tool_calls\' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{- raise_exception("This model only supports single tool-calls at once!") }}\n        {%- endif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {{- \'<|start_header_id|>assistant<|end_header_id|>\\n\\n\' -}}\n        {{- \'{"name": "\' + tool_call.name + \'", \' }}\n        {{- \'"parameters": \' }}\n        {{- tool_call.arguments | tojson }}\n        {{- "}" }}\n        {{- "<|eot_id|>" }}\n    {%- elif message.role == "tool" or message.role == "ipython" %}\n        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}\n        {%- if message.content is mapping or message.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n            {{- message.content }}\n        {%- endif %}\n        {{- "<|eot_id|>" }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- \'<|start_header_id|>assistant<|end_header_id|>\\n\\n\' }}\n{%- endif %}\n'

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "  Tell me a joke.\n"},
    ],
    [
        {"role": "user", "content": "Turn on the kitchen lights"},
        {"role": "assistant", "content": "Done: the kitchen lights are on."},
        {"role": "user", "content": "Thanks 👍"},
    ],
]


GGUF_FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_entries(data: bytes) -> list[tuple[str, bytes]]:
    """The metadata entries of a GGUF file: (key, the entry's raw bytes)."""

    def skip_value(offset: int, kind: int) -> int:
        if kind in GGUF_FIXED_SIZES:
            return offset + GGUF_FIXED_SIZES[kind]
        if kind == 8:
            return offset + 8 + struct.unpack_from("<Q", data, offset)[0]
        assert kind == 9
        inner, count = struct.unpack_from("<IQ", data, offset)
        offset += 12
        if inner in GGUF_FIXED_SIZES:
            return offset + count * GGUF_FIXED_SIZES[inner]
        for _ in range(count):
            offset = skip_value(offset, inner)
        return offset

    kv_count = struct.unpack_from("<Q", data, 16)[0]
    offset = 24
    entries = []
    for _ in range(kv_count):
        start = offset
        key_length = struct.unpack_from("<Q", data, offset)[0]
        key = data[offset + 8 : offset + 8 + key_length].decode()
        offset += 8 + key_length
        kind = struct.unpack_from("<I", data, offset)[0]
        offset = skip_value(offset + 4, kind)
        entries.append((key, data[start:offset]))
    return entries


def gguf_with_pre(source: pathlib.Path, pre: str | None, target: pathlib.Path) -> None:
    """Writes `source`'s metadata, with `tokenizer.ggml.pre` replaced (or removed when None), and no tensors: a
    vocabulary-only GGUF, so llama.cpp's other pre-tokenizers can run on the same vocabulary."""
    data = source.read_bytes()
    magic, version = struct.unpack_from("<II", data, 0)
    entries = [entry for key, entry in gguf_entries(data) if key != "tokenizer.ggml.pre"]
    if pre is not None:
        key = b"tokenizer.ggml.pre"
        value = pre.encode()
        entries.append(struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(value)) + value)
    target.write_bytes(struct.pack("<IIQQ", magic, version, 0, len(entries)) + b"".join(entries))


def sentencepiece_vocabulary() -> dict:
    """A small SentencePiece vocabulary (no default model here uses one): <unk> <s> </s>, the 256 <0xXX> byte
    tokens, a user-defined token, single characters, and word pieces with seeded scores (ties included)."""
    rng = random.Random(7)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["<|user|>"]
    types = [2, 3, 3] + [6] * 256 + [4]
    scores = [0.0] * len(tokens)
    words = (
        "the quick brown fox jumps over lazy dog hello world speech small boards models memory code commas "
        "and with in on a an is it of to that this you are we they here there tell me joke capital france "
        "ing ed er es th he in an re on at en nd ti or te st ar al it is ou"
    ).split()
    pieces = ["\u2581"] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;()\"/é日本😀")
    for word in words:
        pieces += ["\u2581" + word, word, word[:2], word[1:]]
    seen = set(tokens)
    for piece in pieces:
        if piece and piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(1)
            # Coarse scores, so that equal-score merges compete.
            scores.append(-float(rng.randint(0, 40)))
    return {"tokens": tokens, "types": types, "scores": scores}


def gguf_with_vocabulary(source: pathlib.Path, vocab: dict, target: pathlib.Path) -> None:
    """`source`'s metadata without its tokenizer, plus `vocab` as a SentencePiece ("llama") tokenizer; no tensors."""
    data = source.read_bytes()
    magic, version, _, kv_count = struct.unpack_from("<IIQQ", data, 0)
    entries = [entry for key, entry in gguf_entries(data) if not key.startswith("tokenizer.")]

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    entries.append(string("tokenizer.ggml.model") + struct.pack("<I", 8) + string("llama"))
    entries.append(
        string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, len(vocab["tokens"]))
        + b"".join(string(t) for t in vocab["tokens"])
    )
    entries.append(
        string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, len(vocab["scores"]))
        + struct.pack(f"<{len(vocab['scores'])}f", *vocab["scores"])
    )
    entries.append(
        string("tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 5, len(vocab["types"]))
        + struct.pack(f"<{len(vocab['types'])}i", *vocab["types"])
    )
    target.write_bytes(struct.pack("<IIQQ", magic, version, 0, len(entries)) + b"".join(entries))


def random_texts(count: int, seed: int = 2026) -> list[str]:
    """Seeded random texts from pieces that stress the pre-tokenizers: mixed scripts, digit runs, whitespace
    runs, contractions in any case, emoji with joiners, and special-token text."""
    rng = random.Random(seed)
    pieces = [
        "a", "Z", "é", "ß", "İ", "ı", "日本", "中", "한", "ع", "ж", "Ω", "ǅ", "e\u0301", "\u0928\u093f",
        "0", "7", "42", "123", "98765", "٣", "½", "Ⅻ", "²",
        " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2003", "\u0085",
        "'s", "'T", "'re", "'VE", "'m", "'Ll", "'d", "'", "'x",
        ".", ",", "!", "?", "...", "-", "_", "(", ")", "{", "}", "$", "+", "<", "=", ">", "^", "~", "|", "`",
        "@", "#", "%", "&", "*", "/", "\\", "\"", "«", "»", "—", "…", "€", "∑",
        "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇺🇸", "❤️", "\u200b", "\u200d", "\ufeff", "\ue000", "\U000e0080",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>",
        "hello", "World", "don", "CamelCase", "snake_case", "x1", "v2.0",
    ]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def tokenize(vocab, text: bytes, add_special: bool, parse_special: bool) -> list[int]:
    capacity = len(text) + 8
    buf = (llama_cpp.llama_token * capacity)()
    n = llama_cpp.llama_tokenize(vocab, text, len(text), buf, capacity, add_special, parse_special)
    if n < 0:
        raise RuntimeError(f"tokenize failed for {text!r}")
    return list(buf[:n])


def piece(vocab, token: int) -> bytes:
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, 256, 0, True)
    if n < 0:
        raise RuntimeError(f"piece of {token} is longer than 256 bytes")
    return buf.raw[:n]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: llama_tokenizer_reference.py MODEL.gguf")
    model_path = sys.argv[1]
    llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    corpus = json.loads((FIXTURES / "tokenizer-corpus.json").read_text(encoding="utf-8")) + random_texts(300)
    cases = []
    used: set[int] = set()
    for text in corpus:
        data = text.encode("utf-8")
        with_special = tokenize(vocab, data, True, True)
        without_special = tokenize(vocab, data, False, True)
        used.update(with_special)
        used.update(without_special)
        cases.append({"text": text, "add_special": with_special, "no_special": without_special})

    pieces = {str(t): piece(vocab, t).hex() for t in sorted(used)}
    eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]

    metadata = llm.metadata
    template = metadata["tokenizer.chat_template"]
    token_text = lambda t: llama_cpp.llama_vocab_get_text(vocab, t).decode("utf-8")  # noqa: E731
    bos_text, eos_text = token_text(llama_cpp.llama_vocab_bos(vocab)), token_text(llama_cpp.llama_vocab_eos(vocab))

    chats = []
    templates = {
        "gguf": (template, bos_text, eos_text),
        **OTHER_TEMPLATES,
        "llama32": (LLAMA32_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>"),
    }
    for family, (source, bos, eos) in templates.items():
        for messages in CONVERSATIONS:
            for add_generation_prompt in (True, False):
                formatter = Jinja2ChatFormatter(
                    template=source, eos_token=eos, bos_token=bos, add_generation_prompt=add_generation_prompt
                )
                # A fixed date for Llama 3.2's "Today Date" line (otherwise today's, through strftime_now).
                prompt = formatter(messages=messages, date_string="26 Jul 2024").prompt
                chats.append(
                    {
                        "family": family,
                        "template": source,
                        "bos": bos,
                        "eos": eos,
                        "messages": messages,
                        "add_generation_prompt": add_generation_prompt,
                        "prompt": prompt,
                    }
                )

    # The same vocabulary under llama.cpp's other pre-tokenizers ("default": no tokenizer.ggml.pre at all).
    other_pre = {}
    with tempfile.TemporaryDirectory() as scratch:
        for pre in ("llama-bpe", "qwen2", "gpt-2", "default", "starcoder"):
            variant = pathlib.Path(scratch) / f"{pre}.gguf"
            gguf_with_pre(pathlib.Path(model_path), None if pre == "default" else pre, variant)
            other = llama_cpp.Llama(model_path=str(variant), vocab_only=True, verbose=False)
            other_vocab = llama_cpp.llama_model_get_vocab(other.model)
            other_pre[pre] = [tokenize(other_vocab, text.encode("utf-8"), False, True) for text in corpus]
            del other

        # A SentencePiece vocabulary of our own, through llama.cpp's SPM tokenizer.
        spm = sentencepiece_vocabulary()
        variant = pathlib.Path(scratch) / "spm.gguf"
        gguf_with_vocabulary(pathlib.Path(model_path), spm, variant)
        other = llama_cpp.Llama(model_path=str(variant), vocab_only=True, verbose=False)
        spm_vocab = llama_cpp.llama_model_get_vocab(other.model)
        spm["cases"] = [
            {
                "add_special": tokenize(spm_vocab, text.encode("utf-8"), True, True),
                "no_special": tokenize(spm_vocab, text.encode("utf-8"), False, True),
                "no_parse": tokenize(spm_vocab, text.encode("utf-8"), False, False),
            }
            for text in corpus + ["hello<|user|>world</s>the", " leading", "tell  me\n\n joke"]
        ]
        spm["texts"] = corpus + ["hello<|user|>world</s>the", " leading", "tell  me\n\n joke"]
        del other

    out = {
        "model": pathlib.Path(model_path).name,
        "llama_cpp_python": llama_cpp.__version__,
        "n_vocab": n_vocab,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "eot": llama_cpp.llama_vocab_eot(vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "eog": eog,
        "cases": cases,
        "other_pre_tokenizers": other_pre,
        "pieces": pieces,
        "sentencepiece": spm,
        "chats": chats,
    }
    path = FIXTURES / "tokenizer-smollm2.json"
    # One line per key, and per case or chat in the long lists: compact, yet diffs stay readable.
    lines = []
    for key, value in out.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n  ".join(json.dumps(item, ensure_ascii=False) for item in value)
            lines.append(f"{json.dumps(key)}: [\n  {body}\n ]")
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), list):
            body = ",\n  ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
            lines.append(f"{json.dumps(key)}: {{\n  {body}\n }}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    path.write_text("{\n " + ",\n ".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {path}: {len(cases)} texts, {len(pieces)} pieces, {len(chats)} chat renderings")


if __name__ == "__main__":
    main()
