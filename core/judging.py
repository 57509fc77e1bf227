"""Judging a stored run: every successful sample x judge scorer of its prompt set, resumable.

    judge_run(store, run_id)                 # the runner calls it per model after that model's generation;
                                             # `python -m core judge RUN_ID` judges, re-judges or resumes
    pairwise_run(store, run_id, "A", "B")    # both orders per prompt, stored with the order
    judgement_counts(store, run_id)          # judged / errored / pending per model and judge scorer

Verdicts are written in chunks, each in one transaction with the judged samples' scores, composite
quality and passed (core.scoring.composite_from_scores): a crash loses at most the chunk being judged,
which the next pass judges again. A judge value is an ordinary score ("judge" key in the sample's scores,
in [0, 1] over the rubric's scale); a pending or errored judgement is left out of the scores and the
composite, like a scorer that did not run, and judgement_counts says how many there are.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core import catalog, prompts
from core.judge import GradeRequest, Judge, Verdict, check_not_self
from core.queries.judgements import judgeable_samples, latest_judgements, pairwise_judgements
from core.rubrics import RubricError, parse_scale
from core.schemas import ModelSpec, PromptItem, PromptSet, ScorerSpec
from core.scoring import composite_from_scores, score_keys

CHUNK = 32  # verdicts per store write

OpenJudge = Callable[[str], Judge]


@dataclass
class JudgeSummary:
    run_id: str
    counts: dict[str, int] = field(default_factory=dict)  # status of each verdict this pass wrote or confirmed
    calls: int = 0  # judge model calls made (cache hits and current verdicts make none)
    cached: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, status: str, n: int = 1) -> None:
        self.counts[status] = self.counts.get(status, 0) + n


def judge_specs(item: PromptItem) -> list[tuple[str, ScorerSpec]]:
    """(scores key, spec) of each judge scorer of an item."""
    return [(k, s) for k, s in zip(score_keys(item.scorers), item.scorers, strict=True) if s.name == "judge"]


def judge_models(ps: PromptSet) -> list[str]:
    return sorted({str(s.params.get("model")) for item in ps.items for _, s in judge_specs(item)})


def check_judges(ps: PromptSet, evaluated: dict[str, ModelSpec], store: Any = None) -> None:
    """Refuse, before anything runs, a judge model that is not in the catalog or that is an evaluated model."""
    for name in judge_models(ps):
        try:
            judge = catalog.get_spec(name, store)
        except catalog.CatalogError as exc:
            raise RubricError(f"prompt set {ps.name!r}: judge scorer: {exc}") from None
        for spec in evaluated.values():
            check_not_self(judge, spec)


def _run_prompt_set(store: Any, run_id: str) -> PromptSet:
    row = store.get_run(run_id)
    ps = prompts.run_set(store, row)
    if ps is None:
        raise ValueError(f"run {run_id}: no stored copy of the prompt-set version it used ({row.prompt_set_hash})")
    return ps


def _run_context(store: Any, run_id: str) -> tuple[PromptSet, dict[str, ModelSpec]]:
    """The run's prompt set and the catalog entries it evaluated, as recorded in its manifest (an entry
    recorded without a source, e.g. an HTTP model, reads its endpoint as the source)."""
    ps = _run_prompt_set(store, run_id)
    models = store.get_run(run_id).manifest.get("models", {})
    specs = {n: ModelSpec.from_json(json.dumps({"name": n, "source": d.get("base_url") or "", **d}))
             for n, d in models.items()}
    return ps, specs


def _opener(store: Any, loader: Any, device: str) -> OpenJudge:
    def open_judge(name: str) -> Judge:
        return Judge.open(name, store, loader, device)
    return open_judge


# --------------------------------------------------------------------------- absolute judgements


@dataclass(frozen=True)
class _Task:
    sample: dict[str, Any]
    item: PromptItem
    key: str
    spec: ScorerSpec


def judge_run(store: Any, run_id: str, *, scorer: str | None = None, models: Sequence[str] | None = None,
              loader: Any = None, device: str = "cpu", open_judge: OpenJudge | None = None) -> JudgeSummary:
    """Judge (or re-judge, or resume) the run's samples; cached verdicts cost no call."""
    ps, specs = _run_context(store, run_id)
    check_judges(ps, specs, store)
    items = {i.id: i for i in ps.items}
    keys = {k for i in ps.items for k, _ in judge_specs(i)}
    if scorer is not None and scorer not in keys:
        raise ValueError(f"prompt set {ps.name!r} has no judge scorer {scorer!r}; its judge scorers: "
                         f"{', '.join(sorted(keys)) or 'none'}")
    summary = JudgeSummary(run_id)
    samples = judgeable_samples(store, run_id, models).to_dict("records")
    latest = {(r["result_key"], r["scorer_key"]): r for r in latest_judgements(store, run_id).to_dict("records")}
    groups: dict[tuple, list[_Task]] = {}
    for s in samples:
        item = items.get(s["item_id"])
        for key, spec in judge_specs(item) if item is not None else []:
            if scorer is None or key == scorer:
                p = spec.params
                cfg = (p["model"], json.dumps(p.get("rubric")), tuple(parse_scale(p.get("scale"))),
                       bool(p.get("reference", False)), int(p.get("max_new_tokens", 16)))
                groups.setdefault(cfg, []).append(_Task(s, item, key, spec))
    open_judge = open_judge or _opener(store, loader, device)
    judges: dict[tuple[str, int], Judge | str] = {}
    for cfg, tasks in groups.items():
        judge = _judge_for(judges, open_judge, cfg[0], cfg[4])
        for start in range(0, len(tasks), CHUNK):
            _judge_chunk(store, run_id, judge, cfg, tasks[start:start + CHUNK], latest, summary)
    return summary


def _judge_for(judges: dict, open_judge: OpenJudge, name: str, max_new: int) -> Judge | str:
    """The opened judge, or why it could not open (its verdicts stay pending)."""
    if (name, max_new) not in judges:
        try:
            judge = open_judge(name)
            judge.max_new_tokens = max_new
            judges[(name, max_new)] = judge
        except Exception as exc:  # noqa: BLE001 - unavailable, over the memory budget, endpoint down
            judges[(name, max_new)] = f"judge {name!r} could not be opened: {type(exc).__name__}: {exc}"[:1000]
    return judges[(name, max_new)]


def _judge_chunk(store: Any, run_id: str, judge: Judge | str, cfg: tuple, tasks: list[_Task],
                 latest: dict, summary: JudgeSummary) -> None:
    name, rubric, scale, reference = cfg[0], json.loads(cfg[1]), cfg[2], cfg[3]
    if isinstance(judge, str):
        verdicts = [Verdict("pending", "", error_kind="model_unavailable", error_message=judge) for _ in tasks]
        version, rubric_sha = None, None
    else:
        calls = judge.calls
        verdicts = judge.grade_many([GradeRequest(t.item.prompt, t.item.reference, t.sample["output_text"] or "")
                                     for t in tasks], rubric=rubric, scale=scale, reference=reference)
        summary.calls += judge.calls - calls
        version = judge.version
        from core.rubrics import load_rubric, rubric_hash

        rubric_sha = rubric_hash(load_rubric(rubric))
    rows, touched = [], {}
    for t, v in zip(tasks, verdicts, strict=True):
        prev = latest.get((t.sample["result_key"], t.key))
        summary.add(v.status)
        summary.cached += v.cached
        if prev is not None and v.status != "pending" and prev["cache_key"] == v.cache_key and prev["status"] == v.status:
            continue  # the stored verdict is current: nothing to write
        row = {"run_id": run_id, "result_key": t.sample["result_key"], "model": t.sample["model"],
               "item_id": t.item.id, "repeat": t.sample["repeat"], "scorer_key": t.key, "mode": "absolute",
               "judge_model": name, "judge_version": version, "rubric_hash": rubric_sha, "scale_min": scale[0],
               "scale_max": scale[1], **_verdict_columns(v)}
        rows.append(row)
        latest[(t.sample["result_key"], t.key)] = row
        touched[t.sample["result_key"]] = t
    updates = [_rescored(run_id, t, latest) for t in touched.values()]
    store.append_judgements(rows, updates)


def _verdict_columns(v: Verdict) -> dict[str, Any]:
    cols = asdict(v)
    cols["cache_key"] = v.cache_key or None
    return cols


def _rescored(run_id: str, t: _Task, latest: dict) -> dict[str, Any]:
    """The sample's scores with its current judge values (ok only), and the composite recomputed."""
    try:
        stored = json.loads(t.sample["scores"]) if t.sample["scores"] else {}
    except (TypeError, ValueError):
        stored = {}
    stored = stored if isinstance(stored, dict) else {}
    judge_keys = [k for k, _ in judge_specs(t.item)]
    scores = {k: v for k, v in stored.items() if k not in judge_keys}
    for k in judge_keys:
        cur = latest.get((t.sample["result_key"], k))
        if cur is not None and cur["status"] == "ok" and cur["value"] is not None:
            scores[k] = float(cur["value"])
    res = composite_from_scores(t.item.scorers, {k: v for k, v in scores.items() if not k.startswith("_")})
    t.sample["scores"] = json.dumps(scores)
    return {"run_id": run_id, "result_key": t.sample["result_key"], "scores": t.sample["scores"],
            "quality": res.quality, "passed": res.passed}


def judgement_counts(store: Any, run_id: str) -> pd.DataFrame:
    """Per (model, scorer_key): expected (successful samples with that judge scorer), judged, errored and
    pending (no verdict yet, or the judge could not be reached). Empty when the set has no judge scorer."""
    ps = _run_prompt_set(store, run_id)
    items = {i.id: [k for k, _ in judge_specs(i)] for i in ps.items}
    latest = {(r["result_key"], r["scorer_key"]): r["status"] for r in latest_judgements(store, run_id).to_dict("records")}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for s in judgeable_samples(store, run_id).to_dict("records"):
        for k in items.get(s["item_id"], []):
            c = out.setdefault((s["model"], k), {"expected": 0, "judged": 0, "errored": 0, "pending": 0})
            c["expected"] += 1
            status = latest.get((s["result_key"], k))
            c["judged" if status == "ok" else "errored" if status == "error" else "pending"] += 1
    return pd.DataFrame([{"model": m, "scorer": k, **c} for (m, k), c in sorted(out.items())],
                        columns=["model", "scorer", "expected", "judged", "errored", "pending"])


# --------------------------------------------------------------------------- pairwise


def pairwise_run(store: Any, run_id: str, model_a: str, model_b: str, *, judge: str | None = None,
                 rubric: str = "pairwise", loader: Any = None, device: str = "cpu",
                 open_judge: OpenJudge | None = None) -> JudgeSummary:
    """Ask the judge which of the two models' answers is better, for every (prompt, repeat) both answered,
    in both orders (AB: model_a shown as Answer A; BA: model_b shown as Answer A)."""
    ps, specs = _run_context(store, run_id)
    for m in (model_a, model_b):
        if m not in specs:
            raise ValueError(f"run {run_id} has no model {m!r}; its models: {', '.join(specs)}")
    if model_a == model_b:
        raise ValueError("--pairwise needs two different models")
    name = judge or _only_judge(ps)
    jspec = catalog.get_spec(name, store)
    for m in (model_a, model_b):
        check_not_self(jspec, specs[m])
    items = {i.id: i for i in ps.items}
    df = judgeable_samples(store, run_id, [model_a, model_b])
    out = {(r["model"], r["item_id"], r["repeat"]): r["output_text"] or "" for r in df.to_dict("records")}
    units = sorted({(i, rep) for (m, i, rep) in out if m == model_a and (model_b, i, rep) in out and i in items})
    judge_obj = (open_judge or _opener(store, loader, device))(name)
    latest = {(r["item_id"], r["repeat"], r["answer_order"]): r
              for r in pairwise_judgements(store, run_id, model_a, model_b).to_dict("records")}
    summary = JudgeSummary(run_id)
    for start in range(0, len(units), CHUNK // 2):
        _pairwise_chunk(store, run_id, judge_obj, rubric, units[start:start + CHUNK // 2], items, out,
                        (model_a, model_b), latest, summary)
    return summary


def _only_judge(ps: PromptSet) -> str:
    names = judge_models(ps)
    if len(names) != 1:
        raise ValueError(f"name the judge model with --judge (prompt set {ps.name!r} has "
                         f"{'no judge scorer' if not names else 'judges ' + ', '.join(names)})")
    return names[0]


def _pairwise_chunk(store: Any, run_id: str, judge: Judge, rubric: str, units: list, items: dict, out: dict,
                    pair: tuple[str, str], latest: dict, summary: JudgeSummary) -> None:
    from core.rubrics import load_rubric, rubric_hash

    a, b = pair
    asks, where = [], []
    for item_id, rep in units:
        item, ans_a, ans_b = items[item_id], out[(a, item_id, rep)], out[(b, item_id, rep)]
        asks += [(item.prompt, item.reference, ans_a, ans_b), (item.prompt, item.reference, ans_b, ans_a)]
        where += [(item_id, rep, "AB"), (item_id, rep, "BA")]
    calls = judge.calls
    verdicts = judge.prefer_many(asks, rubric)
    summary.calls += judge.calls - calls
    sha = rubric_hash(load_rubric(rubric))
    rows = []
    for (item_id, rep, order), v in zip(where, verdicts, strict=True):
        summary.add(v.status)
        summary.cached += v.cached
        prev = latest.get((item_id, rep, order))
        if prev is not None and v.status != "pending" and prev["cache_key"] == v.cache_key and prev["status"] == v.status:
            continue
        shown_a = a if order == "AB" else b
        winner = None if v.preference is None else "tie" if v.preference == "tie" else (
            shown_a if v.preference == "A" else (b if shown_a == a else a))
        rows.append({"run_id": run_id, "item_id": item_id, "repeat": rep, "scorer_key": "pairwise", "mode": "pairwise",
                     "judge_model": judge.spec.name, "judge_version": judge.version, "rubric_hash": sha, "model_a": a,
                     "model_b": b, "answer_order": order, "winner": winner, **_verdict_columns(v)})
    store.append_judgements(rows)


def judgement_notes(store: Any, run_id: str) -> tuple[str, ...]:
    """One sentence per (model, judge scorer) with pending or errored judgements, for the KPI table and
    reports: those samples count as missing in that score and in the composite quality. () without any."""
    from core.textfmt import count_of

    try:
        counts = judgement_counts(store, run_id)
    except (KeyError, ValueError):
        return ()
    notes = []
    for r in counts.to_dict("records"):
        if r["pending"] or r["errored"]:
            parts = ([f"{count_of(r['pending'], 'judgement')} pending (judge unreachable or not run yet; "
                      f"`python -m core judge {run_id}` resumes them)"] if r["pending"] else [])
            parts += [f"{count_of(r['errored'], 'judge error')} (no usable score in the judge's answer)"] if r["errored"] else []
            notes.append(f"{r['model']}, judge scorer {r['scorer']!r}: {' and '.join(parts)} out of "
                         f"{count_of(r['expected'], 'sample')}; they count as missing in that score and the composite quality")
    return tuple(notes)
