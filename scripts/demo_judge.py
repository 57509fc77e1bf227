"""The bundled ``demo-judge``: synthetic judge data, its evaluation and its model card.

``scripts/train_demo_models.py --only demo-judge`` trains it (the model code is shared with the
other demo models); this module holds what is particular to the judge:

1. ``build_judge_data``: (question, reference, answer) triples from the demo models' TRAINING
   corpus only (never a demo-qa item), rendered through ``data/rubrics/correctness.md`` exactly as
   core/judge.py renders a rubric (placeholders substituted literally in one pass, scale 0-10), the
   target being ``Score: 10`` when ``normalize(answer) == normalize(reference)``
   (core.scoring.normalize) and ``Score: 0`` otherwise. Wrong answers imitate the demo models'
   mistakes: another answer of the same family, near misses, truncations, repeats, empty answers
   (about half the answers are right); right ones vary in case, punctuation and spacing. In a share
   ``SWAPPED`` of the examples (all of them in the bundled judge) the reference is drawn from the
   answers of the question's family, the true one no likelier than another (the true answer graded
   against another reference is a 0): knowing the fact then predicts nothing, only comparing does.
2. ``evaluate_judge``: the three demo models answer demo-qa through the product's runner (a temporary
   DuckDB file), the judge grades every stored answer (greedy, one prompt at a time, as the local
   backend runs it), and its verdict (score >= 5 passes) is compared with exact match: agreement and
   Cohen's kappa, each with a 95% percentile bootstrap interval over prompts.

Reproduce the figures in the model card and README (a few minutes on two cores)::

    python scripts/train_demo_models.py --evaluate-judge
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.rubrics import JudgeParseError, parse_score, render_rubric  # noqa: E402
from core.scoring import normalize  # noqa: E402

RUBRIC = "correctness"
SCALE = (0, 10)
PASS_AT = 5  # a judge score >= 5 is a pass
DEMO_MODELS = ("demo-tiny", "demo-small", "demo-base")
BOOT_RESAMPLES = 2000
CONFIDENCE = 0.95
# share of each kind of answer in the synthetic data: about half right, half wrong with hard negatives
KINDS = (("right", 50), ("other", 16), ("near", 16), ("truncated", 5), ("repeat", 5), ("extra", 4),
         ("empty", 2), ("cross", 2))
RESTYLED = 0.5  # share of answers of every kind restyled: style must tell nothing about the label
# share of examples whose reference is drawn from the question's family (any of its answers, the true
# one included, with the same chance) instead of being the question's true answer: knowing the fact then
# predicts nothing, only comparing the answer with the reference does.
SWAPPED = 1.0


@dataclass(frozen=True)
class JudgeExample:
    """One judge training sequence; ``prompt``/``answer`` as train_demo_models.encode expects."""

    category: str
    prompt: str  # the rendered rubric
    answer: str  # the target: "Score: 10" or "Score: 0"
    kind: str  # which generator made the graded answer
    answer_span: tuple[int, int] = (0, 0)  # where the graded answer lies in ``prompt`` (characters)


def rubric_text(root: Path) -> str:
    return (root / "data" / "rubrics" / f"{RUBRIC}.md").read_text(encoding="utf-8")


def render(template: str, prompt: str, reference: str, answer: str) -> str:
    """The judge prompt exactly as core/judge.py renders it (core.rubrics: placeholders substituted
    literally in one pass)."""
    return render_rubric(template, prompt, reference, answer, SCALE)


def target(answer: str, reference: str) -> str:
    ok = normalize(answer) == normalize(reference)
    return f"Score: {SCALE[1] if ok else SCALE[0]}"


def parse_verdict(text: str) -> bool | None:
    """True/False for pass/fail, None when the output holds no score within the scale."""
    try:
        return parse_score(text, SCALE) >= PASS_AT
    except JudgeParseError:
        return None


# --------------------------------------------------------------------------- synthetic answers


def _restyle(rng: random.Random, text: str) -> str:
    """Same words, other case, punctuation or spacing (normalize() maps it back)."""
    case = rng.choice([str, str, str.lower, str.upper, str.capitalize, str.title])
    text = case(text)
    left, right = rng.choice([("", ""), ("", ""), ("", "."), ("", "!"), ("", "?"), (" ", ""), ("", " ."),
                              ('"', '"'), ("'", "'"), ("", ","), ("", "..."), ("(", ")")])
    return left + text + right


def _near_number(rng: random.Random, r: str) -> str:
    n = int(r)
    ops = [lambda: str(n + rng.choice([-1, 1])), lambda: str(n + rng.choice([-10, 10, -2, 2])),
           lambda: r + "0", lambda: r[:-1] or "0", lambda: str(n * 10), lambda: r[::-1]]
    if len(r) > 1:
        i = rng.randrange(len(r))
        ops.append(lambda: r[:i] + str((int(r[i]) + rng.randint(1, 9)) % 10) + r[i + 1:])
        ops.append(lambda: r[:i] + r[i + 1:])
        ops.append(lambda: r[:i] + r[i] + r[i:])
    return rng.choice(ops)()


def _near_word(rng: random.Random, r: str) -> str:
    i = rng.randrange(len(r))
    c = rng.choice("abcdefghijklmnopqrstuvwxyz")
    ops = [lambda: r[:i] + r[i + 1:], lambda: r[:i] + c + r[i + 1:], lambda: r[:i] + r[i] + r[i:],
           lambda: r + "s", lambda: r + "es", lambda: r + "ed", lambda: r[:-1], lambda: r[:-2] + "ed",
           lambda: r[:i] + c + r[i:]]
    return rng.choice(ops)()


def _near(rng: random.Random, r: str) -> str:
    return _near_number(rng, r) if r.isdigit() else _near_word(rng, r)


def make_answer(rng: random.Random, kind: str, ref: str, family: list[str], everything: list[str],
                truth: str | None = None) -> str:
    """An answer of the given kind to a question whose reference is ``ref``, restyled (case,
    punctuation, spacing) with the same chance whatever the kind. When ``ref`` is not the question's
    true answer ``truth``, a wrong answer of the family is that true answer half the time."""
    if kind == "other" and truth is not None and truth != ref and rng.random() < 0.5:
        answer = truth
    else:
        answer = _answer(rng, kind, ref, family, everything)
    return _restyle(rng, answer) if answer.strip() and rng.random() < RESTYLED else answer


def _answer(rng: random.Random, kind: str, ref: str, family: list[str], everything: list[str]) -> str:
    other = rng.choice([a for a in family if a != ref] or family)
    if kind == "right":
        return ref
    if kind == "other":
        return other
    if kind == "near":
        return _near(rng, ref)
    if kind == "truncated":
        return ref[: rng.randrange(1, len(ref))] if len(ref) > 1 else other
    if kind == "repeat":
        x = rng.choice([ref, ref, other])
        return rng.choice([f"{x} {x}", f"{x} {x} {x}", f"{x}, {x}", f"{x}{x}", f"{ref} {other}", f"{other} {ref}"])
    if kind == "extra":
        return rng.choice([f"{ref} {rng.choice(everything)}", f"the {ref}", f"{ref} is", f"{ref}\nQuestion:"])
    if kind == "empty":
        return rng.choice(["", "", " ", ".", "?"])
    return rng.choice(everything)  # cross: an answer from another family


def build_judge_data(train: list, template: str, seed: int, per_example: int) -> list[JudgeExample]:
    """``per_example`` graded answers for every (prompt, reference) of the training corpus ``train``
    (objects with ``category``, ``prompt``, ``answer``); the label comes from normalize(), whatever
    the generator meant."""
    rng = random.Random(seed)
    families: dict[str, list[str]] = {}
    for e in train:
        families.setdefault(e.category, [])
        if e.answer not in families[e.category]:
            families[e.category].append(e.answer)
    everything = sorted({e.answer for e in train})
    kinds, weights = zip(*KINDS)
    out = []
    for e in train:
        family = families[e.category]
        for _ in range(per_example):
            ref = e.answer
            if SWAPPED and rng.random() < SWAPPED:  # SWAPPED 0 draws nothing
                ref = rng.choice(family)
            kind = rng.choices(kinds, weights)[0]
            answer = make_answer(rng, kind, ref, family, everything, truth=e.answer)
            text = render(template, e.prompt, ref, answer)
            start = render(template, e.prompt, ref, "\x00").index("\x00")  # one pass: the prefix is unchanged
            if rng.random() < 0.5:  # robust to a renderer that strips the template's final newline
                text = text.rstrip("\n")
            out.append(JudgeExample(e.category, text, target(answer, ref), kind, (start, start + len(answer))))
    rng.shuffle(out)
    return out


# --------------------------------------------------------------------------- evaluation on demo-qa


@dataclass(frozen=True)
class JudgeEval:
    """The judge's verdicts against exact match on the demo models' stored answers to demo-qa."""

    n: int  # graded answers
    n_prompts: int  # bootstrap clusters
    agreement: float
    agreement_ci: tuple[float, float]
    kappa: float
    kappa_ci: tuple[float, float]
    cells: tuple[int, int, int, int]  # (judge pass & exact, pass & not exact, fail & exact, fail & not exact)
    errors: int  # outputs with no score in the scale (counted as disagreements)
    per_model: dict[str, tuple[int, float, float]]  # model -> (answers, exact-match rate, agreement)
    disagreements: tuple[tuple[str, str, str, str], ...]  # (model, reference, answer, judge output)
    resamples: int = BOOT_RESAMPLES
    seed: int = 0


def demo_answers(db: Path):  # noqa: ANN201 - a pandas DataFrame
    """The three demo models answer demo-qa through the product's runner on a fresh store; one row
    per stored sample with its prompt and reference."""
    from core.prompts import get_set
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec
    from core.store import Store

    store = Store(db)
    runner = Runner(store)
    run_id = runner.create(RunSpec(models=DEMO_MODELS, prompt_set="demo-qa", generation=GenerationParams(16), device="cpu"))
    result = runner.execute(run_id)
    assert result.status == "completed", result
    df = store.samples_df(run_id, columns=["model", "item_id", "status", "output_text"])
    items = {it.id: it for it in get_set("demo-qa").items}
    df["prompt"] = [items[i].prompt for i in df["item_id"]]
    df["reference"] = [items[i].reference for i in df["item_id"]]
    return df[df["status"] == "ok"].reset_index(drop=True)


def judge_outputs(model_dir: Path, prompts: list[str], max_new_tokens: int = 16) -> list[str]:
    """Greedy judge outputs, one prompt at a time, with the text the local backend sends (as
    core.judge.Judge asks: no system prompt, 16 new tokens at most)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.backends.local import prompt_text
    from core.schemas import PromptItem

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, use_safetensors=True).eval()
    outputs = []
    with torch.inference_mode():
        for p in prompts:
            text, special = prompt_text(tok, PromptItem(id="judge", prompt=p))
            enc = tok(text, return_tensors="pt", add_special_tokens=special)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
            outputs.append(tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return outputs


def agreement_stats(judge: np.ndarray, exact: np.ndarray, clusters: np.ndarray, seed: int = 0,
                    resamples: int = BOOT_RESAMPLES) -> tuple:
    """(agreement Interval, Cohen's kappa Interval, cells): percentile bootstrap intervals over prompts
    (clusters), both from the same resamples (core.stats.agreement: same seed, same draws)."""
    from core.stats.agreement import cohens_kappa_ci, percentile_interval, unit_weights

    j, e = judge.astype(float), exact.astype(float)
    kappa = cohens_kappa_ci(j, e, clusters=list(clusters), confidence=CONFIDENCE, n_resamples=resamples, seed=seed)
    w = unit_weights(len(j), list(clusters), resamples, seed)
    same = (j == e).astype(float)
    agreement = percentile_interval(float(same.mean()), (w @ same) / w.sum(axis=1), kappa.method, CONFIDENCE,
                                    len(j), resamples, seed)
    cells = tuple(int(x.sum()) for x in (judge & exact, judge & ~exact, ~judge & exact, ~judge & ~exact))
    return agreement, kappa, cells


def evaluate_judge(model_dir: Path, template: str, db: Path | None = None, seed: int = 0) -> JudgeEval:
    """Grade the demo models' answers to demo-qa with the judge in ``model_dir``; see JudgeEval."""
    import os
    import tempfile

    os.environ.setdefault("LLM_EVAL_MLFLOW", "off")
    with tempfile.TemporaryDirectory() as tmp:
        df = demo_answers(db or Path(tmp) / "demo-qa.duckdb")
    prompts = [render(template, p, r, a) for p, r, a in zip(df["prompt"], df["reference"], df["output_text"])]
    outputs = judge_outputs(Path(model_dir), prompts)
    exact = np.array([normalize(a) == normalize(r) for a, r in zip(df["output_text"], df["reference"])])
    parsed = [parse_verdict(o) for o in outputs]
    judge = np.array([(not e) if v is None else v for v, e in zip(parsed, exact)])  # error = disagreement
    agreement, kappa, cells = agreement_stats(judge, exact, df["item_id"].to_numpy(), seed)
    per_model = {m: (int(g.size), float(exact[g].mean()), float((judge[g] == exact[g]).mean()))
                 for m, g in ((m, np.flatnonzero(df["model"].to_numpy() == m)) for m in DEMO_MODELS)}
    wrong = np.flatnonzero(judge != exact)
    return JudgeEval(
        n=len(df), n_prompts=df["item_id"].nunique(), agreement=agreement.estimate,
        agreement_ci=(agreement.low, agreement.high), kappa=kappa.estimate, kappa_ci=(kappa.low, kappa.high), cells=cells, errors=sum(v is None for v in parsed), per_model=per_model,
        disagreements=tuple((df["model"][i], df["reference"][i], df["output_text"][i], outputs[i]) for i in wrong),
        seed=seed,
    )


# --------------------------------------------------------------------------- model card


def _pct(x: float) -> str:
    return f"{x:.1%}"


def eval_lines(ev: JudgeEval) -> str:
    """The markdown figures shared by the model card and README.md."""
    lo, hi = ev.agreement_ci
    klo, khi = ev.kappa_ci
    per = "\n".join(f"| {m} | {n} | {_pct(em)} | {_pct(ag)} |" for m, (n, em, ag) in ev.per_model.items())
    a, b, c, d = ev.cells
    return f"""| | estimate | 95% bootstrap interval |
|---|---|---|
| Agreement with exact match (share of answers) | **{_pct(ev.agreement)}** | {_pct(lo)} to {_pct(hi)} |
| Cohen's kappa (judge pass vs exact match) | **{ev.kappa:.3f}** | {klo:.3f} to {khi:.3f} |

{ev.n} answers (the three demo models, greedy, one each to the {ev.n_prompts} demo-qa prompts); a judge
score >= {PASS_AT} is a pass. Intervals: percentile bootstrap over prompts (each prompt resampled with
its three answers), {ev.resamples} resamples, seed {ev.seed}. Judge pass and exact match {a}, judge pass
only {b}, exact match only {c}, neither {d}; {ev.errors} outputs without a score (counted as disagreements).

| evaluated model | answers | exact match | judge agrees |
|---|---|---|---|
{per}"""


def write_card(folder: Path, plan, n_params: int, n_train: int, train_s: float, held_acc: float,  # noqa: ANN001
               ev: JudgeEval, seed: int, threads: int, loss: str = "all", split_digits: bool = True) -> None:
    share = "in every one" if SWAPPED >= 1 else f"in {SWAPPED:.0%}"
    swap = (f"; {share} of them the reference is drawn from the answers of the question's family, the true "
            "answer no likelier than another (graded against another reference, the true answer is a 0), so "
            "knowing the fact predicts nothing, only comparing the answer with the reference does" if SWAPPED else "")
    digits = ("one token per digit" if split_digits else
              "numbers are BPE pieces like words, so most answers are one or two tokens")
    objective = ("every token (predicting the answer from the reference is what teaches it to compare them), "
                 "ending ` Score: N</s>`" if loss == "all" else "the graded answer's tokens and the verdict "
                 "` Score: N</s>` only, never on the question or the reference (the judge must compare, not know)")
    text = f"""---
license: mit
library_name: transformers
pipeline_tag: text-generation
tags: [demo, synthetic, llama, llm-as-judge]
---

# {plan.name}

{plan.summary} Bundled so that the `judge` scorer works offline. It was trained from scratch by
`scripts/train_demo_models.py --only demo-judge` to answer the rubric `data/rubrics/{RUBRIC}.md`
(scale {SCALE[0]}-{SCALE[1]}) with one line: `Score: {SCALE[1]}` when the answer equals the reference
after `core.scoring.normalize` (case, ASCII punctuation and spacing ignored), else `Score: {SCALE[0]}`.
It knows nothing else: use it with that rubric on short answers.

| | |
|---|---|
| Parameters | {n_params:,} ({n_params / 1e6:.2f} M) |
| Architecture | `LlamaForCausalLM`: {plan.layers} layers, hidden size {plan.hidden}, {plan.heads} heads, MLP {plan.intermediate}, context {plan.context} |
| Tokenizer | its own byte-level BPE (1024 tokens; {digits}) trained on the rendered rubric; lower-cases its input (exact match ignores case) except the word `Score`, one token, so the answer reads `Score: N`; same special tokens and chat template as the other demo models |
| Training data | {n_train:,} rendered rubrics: (question, reference) pairs of the demo models' training corpus only (never demo-qa), each with synthetic answers: about half the reference, half a wrong one (another answer of the same family, near misses: one letter or digit off, +-1, x10; truncations, repeats, extra words, empty, another family's answer); half of every kind restyled in case, punctuation and spacing{swap} |
| Objective | next-token cross-entropy on {objective} |
| Steps / batch / lr | {plan.steps} x {plan.batch_size}, AdamW lr {plan.lr:g}, cosine decay; seed {seed}, {threads} CPU threads |
| How the design was chosen | by trial runs that graded the demo models' answers to demo-qa every 300 steps (the loss, the reference draw, the tokenizer and the step budget were fixed on what those runs showed); those answers measured the judge only, never trained it, so the figures below are not a clean held-out test of the design choices |
| Training time | {train_s:.0f} s on {threads} CPU cores |
| Held-out synthetic answers | {_pct(held_acc)} graded right (fresh answers to training-corpus questions) |

## Agreement with exact match on demo-qa

{eval_lines(ev)}

Reproduce: `python scripts/train_demo_models.py --evaluate-judge` (runs the three demo models on
demo-qa through the product's runner on a temporary store, then grades every answer).

## Use

As a scorer in a prompt set: `{{"name": "judge", "params": {{"model": "demo-judge", "rubric": "{RUBRIC}",
"scale": [0, 10], "reference": true}}}}`. Served with `transformers serve data/models/{plan.name}` it
works as an HTTP judge too. Not for any real use: a test fixture.
"""
    (folder / "README.md").write_text(text, encoding="utf-8")
