"""The LLM judge: a catalog model (local or HTTP) that grades answers against a rubric.

    judge = Judge.open("demo-judge", store, loader)              # any catalog model
    verdicts = judge.grade_many([GradeRequest(prompt, reference, answer)], rubric="correctness")
    judge.prefer(prompt, reference, answer_a, answer_b)          # "A" | "B" | "tie" (ask both orders)

Every call is greedy and cached in the store by (judge model version, rubric hash, judge prompt): asking
again costs nothing. An answer without a `Score: N` line (N within the scale) is a judge error on that
score, never a zero; a judge that cannot be reached (connection, rate limit, server error, timeout,
memory) leaves the verdict pending, to be resumed by `python -m core judge RUN_ID`. A judge never grades
its own answers (check_not_self). Running a stored run's judgements is core.judging.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core import catalog
from core.rubrics import (
    DEFAULT_SCALE,
    JudgeParseError,
    Preference,
    RubricError,
    check_template,
    load_rubric,
    parse_preference,
    parse_scale,
    parse_score,
    render_pairwise,
    render_rubric,
    rubric_hash,
)
from core.schemas import GenerationParams, ModelSpec, PromptItem, RunSpec

__all__ = [
    "GradeRequest", "Judge", "JudgeParseError", "JudgeUnavailableError", "RubricError", "Verdict",
    "check_not_self", "parse_preference", "parse_score", "render_rubric",
]

# a failed call of these kinds leaves the judgement pending (resumable); any other kind is a judge error
PENDING_KINDS = frozenset({"connection", "rate_limited", "server_error", "timeout", "circuit_open", "oom",
                           "over_budget", "model_unavailable", "cancelled"})
BREAKER_AFTER = 3  # consecutive unreachable calls after which the rest of the batch stays pending untried
JUDGE_TIMEOUT_S = 120.0


class JudgeUnavailableError(RuntimeError):
    """The judge could not be reached for a verdict (pairwise prefer()); the message says why."""


@dataclass(frozen=True)
class GradeRequest:
    prompt: str
    reference: str | None
    answer: str


@dataclass(frozen=True)
class Verdict:
    """One judgement: status ok | error | pending, the parsed score (or preference) and what the call cost."""

    status: str
    cache_key: str
    score: float | None = None
    value: float | None = None  # score mapped to [0, 1] over the scale: the value stored in the sample's scores
    preference: str | None = None
    raw_text: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    cached: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None


def check_not_self(judge: ModelSpec, evaluated: ModelSpec) -> None:
    """Refuse a judge that is the evaluated model: the same catalog entry, or the same source and revision
    (for HTTP entries: the same endpoint and served model)."""
    why = None
    if judge.name == evaluated.name:
        why = "they are the same catalog entry"
    elif judge.kind == "http" or evaluated.kind == "http":
        if (judge.kind, judge.base_url, judge.served_model) == (evaluated.kind, evaluated.base_url, evaluated.served_model):
            why = f"both are the served model {judge.served_model!r} at the same endpoint"
    elif _source_id(judge) == _source_id(evaluated) and judge.revision == evaluated.revision:
        why = f"both load {judge.source!r} at revision {judge.revision or 'unpinned'}"
    if why:
        raise RubricError(f"judge model {judge.name!r} would grade its own answers as evaluated model "
                          f"{evaluated.name!r} ({why}); choose another judge model")


def _source_id(spec: ModelSpec) -> str:
    try:
        return str(catalog.resolve_path(spec)) if spec.kind == "local" else spec.source
    except Exception:  # noqa: BLE001 - a missing directory still has a name to compare
        return spec.source


def cache_key(judge_version: str, rubric_sha: str, text: str, max_new_tokens: int) -> str:
    payload = json.dumps({"judge": judge_version, "rubric": rubric_sha, "prompt": text, "max_new_tokens": max_new_tokens},
                         sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class Judge:
    """A judge model behind a backend (anything with generate() and classify_error(), core.backends)."""

    def __init__(self, spec: ModelSpec, backend: Any, *, version: str | None = None, store: Any = None,
                 max_new_tokens: int = 16, timeout_s: float = JUDGE_TIMEOUT_S) -> None:
        self.spec, self.backend, self.store = spec, backend, store
        self.version = version or _version(spec)
        self.max_new_tokens, self.timeout_s = max_new_tokens, timeout_s
        self.calls = 0  # model calls made (cache hits are not calls)

    @classmethod
    def open(cls, name: str, store: Any = None, loader: Any = None, device: str = "cpu", **kw: Any) -> Judge:
        """The catalog model `name` as a judge, loaded through the project's loader (local) or a client (HTTP)."""
        from core.backends import backend_class

        spec = catalog.get_spec(name, store)
        run_spec = RunSpec(models=(name,), prompt_set="judge", device=device, timeout_s=kw.get("timeout_s", JUDGE_TIMEOUT_S))

        def models() -> Any:
            nonlocal loader
            if loader is None:
                from core.loader import ModelLoader

                loader = ModelLoader(device=device)
            return loader

        backend = backend_class(spec.kind).open(spec, run_spec, models, device if spec.kind != "http" else None)
        return cls(spec, backend, store=store, **kw)

    # ------------------------------------------------------------------ absolute scores
    def grade_many(self, requests: Sequence[GradeRequest], rubric: str = "correctness",
                   scale: Sequence[float] = DEFAULT_SCALE, reference: bool = False) -> list[Verdict]:
        """One verdict per request, in order; identical judge prompts are asked once, cached ones not at all."""
        template = load_rubric(rubric)
        check_template(template, reference=reference)
        lo, hi = parse_scale(scale)
        texts = [render_rubric(template, r.prompt, r.reference, r.answer, (lo, hi)) for r in requests]

        def parse(text: str) -> dict[str, Any]:
            score = parse_score(text, (lo, hi))
            return {"score": score, "value": (score - lo) / (hi - lo)}

        return self.ask(texts, rubric_hash(template), parse)

    # ------------------------------------------------------------------ pairwise
    def prefer(self, prompt: str, reference: str | None, answer_a: str, answer_b: str, rubric: str = "pairwise") -> Preference:
        """The judge's preference between the two answers as shown ("A", "B" or "tie"); the caller asks both
        orders. JudgeParseError when the answer holds no preference; JudgeUnavailableError when unreachable."""
        v = self.prefer_many([(prompt, reference, answer_a, answer_b)], rubric)[0]
        if v.status == "ok":
            return v.preference  # type: ignore[return-value]
        if v.status == "pending":
            raise JudgeUnavailableError(v.error_message or "the judge could not be reached")
        raise JudgeParseError(v.error_message or "the judge gave no preference")

    def prefer_many(self, pairs: Sequence[tuple[str, str | None, str, str]], rubric: str = "pairwise") -> list[Verdict]:
        template = load_rubric(rubric)
        check_template(template, pairwise=True)
        texts = [render_pairwise(template, p, ref, a, b) for p, ref, a, b in pairs]
        return self.ask(texts, rubric_hash(template), lambda text: {"preference": parse_preference(text)})

    # ------------------------------------------------------------------ calls, cache
    def ask(self, texts: Sequence[str], rubric_sha: str, parse: Callable[[str], dict[str, Any]]) -> list[Verdict]:
        """Verdicts for rendered judge prompts: from the cache, else from one call per distinct prompt."""
        keys = [cache_key(self.version, rubric_sha, t, self.max_new_tokens) for t in texts]
        found = self._cached(keys)
        fresh: dict[str, Verdict] = {}
        down: str | None = None
        unreachable = 0
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in fresh:
                continue
            if down is not None:
                fresh[key] = Verdict("pending", key, error_kind="circuit_open", error_message=down)
                continue
            fresh[key] = v = self._call(key, text, parse)
            unreachable = unreachable + 1 if v.status == "pending" else 0
            if unreachable >= BREAKER_AFTER:
                down = f"judge {self.spec.name!r} unreachable {unreachable} times in a row (last: {v.error_message})"
        out, served = [], set()
        for k in keys:
            v = found[k] if k in found else fresh[k]
            if k in served and not v.cached and v.status != "pending":  # one call answered both: the copy cost nothing
                v = replace(v, cached=True, input_tokens=0, output_tokens=0, latency_ms=0.0,
                            cost_usd=None if v.cost_usd is None else 0.0)
            served.add(k)
            out.append(v)
        return out

    def _cached(self, keys: Sequence[str]) -> dict[str, Verdict]:
        if self.store is None:
            return {}
        from core.queries.judgements import cached_judgements

        out = {}
        for r in cached_judgements(self.store, keys).to_dict("records"):
            out[r["cache_key"]] = Verdict(
                r["status"], r["cache_key"], score=_num(r["score"]), value=_num(r["value"]),
                preference=r["preference"] if isinstance(r["preference"], str) else None, raw_text=r["raw_text"],
                error_kind=r["error_kind"] if isinstance(r["error_kind"], str) else None,
                error_message=r["error_message"] if isinstance(r["error_message"], str) else None,
                cached=True, input_tokens=0, output_tokens=0, latency_ms=0.0, cost_usd=0.0)
        return out

    def _call(self, key: str, text: str, parse: Callable[[str], dict[str, Any]]) -> Verdict:
        item = PromptItem(id="judge", prompt=text)
        params = GenerationParams(max_new_tokens=self.max_new_tokens, temperature=0.0)
        self.calls += 1
        t0 = time.perf_counter()
        try:
            m = self.backend.generate(item, params, deadline=time.perf_counter() + self.timeout_s, cancel=None, seed=0)
        except Exception as exc:  # noqa: BLE001 - a failed call is a verdict (pending or error), never a crash
            kind = _kind(self.backend, exc)
            status = "pending" if kind in PENDING_KINDS else "error"
            msg = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            return Verdict(status, key, error_kind=kind, error_message=f"judge {self.spec.name!r}: {msg}"[:1000],
                           latency_ms=(time.perf_counter() - t0) * 1000.0)
        cost = self._cost(m.latency_ms)
        base = Verdict("ok", key, raw_text=m.text, input_tokens=m.input_tokens, output_tokens=m.output_tokens,
                       latency_ms=m.latency_ms, cost_usd=cost)
        try:
            return replace(base, **parse(m.text))
        except JudgeParseError as exc:
            return replace(base, status="error", error_kind="parse", error_message=str(exc))

    def _cost(self, latency_ms: float) -> float | None:
        basis = self.spec.price_basis or {}
        if basis.get("kind") == "hourly" and basis.get("usd_per_hour"):
            return float(basis["usd_per_hour"]) * latency_ms / 3_600_000.0
        return None


def _version(spec: ModelSpec) -> str:
    try:
        return catalog.model_version(spec)
    except Exception:  # noqa: BLE001 - an unavailable model still has a name (its calls will be pending)
        return f"unavailable:{spec.name}"


def _kind(backend: Any, exc: BaseException) -> str:
    from core.measure import GenerationStopped

    if isinstance(exc, GenerationStopped):
        return "timeout" if exc.kind == "timeout" else "cancelled"
    try:
        return backend.classify_error(exc)
    except Exception:  # noqa: BLE001
        return "runtime"


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if v != v else v
