#!/usr/bin/env python3
"""Reference tokenizations and chat renderings from llama.cpp (llama-cpp-python 0.3.36) and jinja2.

Usage (with the reference venv's python):
    /work/main/.venv/bin/python scripts/reference/llama_tokenizer_reference.py path/to/SmolLM2-135M-Instruct.Q4_1.gguf

Reads Tests/LanguageModelTests/Fixtures/tokenizer-corpus.json (a JSON list of texts) and writes
Tests/LanguageModelTests/Fixtures/tokenizer-smollm2.json:
  - for every corpus text: llama_tokenize(text, add_special, parse_special=True) with add_special true and false;
  - the raw bytes of every token id those contain (llama_token_to_piece with special=True), hex-encoded;
  - the model's bos/eos/eot ids and which ids llama.cpp treats as end of generation;
  - renderings of a few conversations through the GGUF's chat template with llama-cpp-python's own Jinja2
    formatter (the same jinja2 environment it uses for chat completion), and through a few other families'
    published templates (the ones llama.cpp's tests/test-chat-template.cpp and models/templates use).
"""

import ctypes
import json
import pathlib
import sys

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

    corpus = json.loads((FIXTURES / "tokenizer-corpus.json").read_text(encoding="utf-8"))
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
    templates = {"gguf": (template, bos_text, eos_text), **OTHER_TEMPLATES}
    for family, (source, bos, eos) in templates.items():
        for messages in CONVERSATIONS:
            for add_generation_prompt in (True, False):
                formatter = Jinja2ChatFormatter(
                    template=source, eos_token=eos, bos_token=bos, add_generation_prompt=add_generation_prompt
                )
                prompt = formatter(messages=messages).prompt
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
        "pieces": pieces,
        "chats": chats,
    }
    path = FIXTURES / "tokenizer-smollm2.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(cases)} texts, {len(pieces)} pieces, {len(chats)} chat renderings")


if __name__ == "__main__":
    main()
