"""The views the SQL console (core.queries.console) offers, documented in one place.

Each view is created in the console connection's temporary catalog (the database itself is opened
read-only) as a projection of one store table onto the columns listed here, so what a user can
rely on is exactly this list: a store column added later does not appear in a view until it is
documented here (tests/test_sql_console.py checks that every documented column exists).
A view whose table a database lacks (a file from an older version) is left out.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleView:
    name: str
    table: str  # the store table the view reads
    description: str
    columns: dict[str, str]  # column -> what it holds (unit where it has one)

    def select(self, database: str) -> str:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        db = database.replace('"', '""')
        return f'CREATE TEMP VIEW "{self.name}" AS SELECT {cols} FROM "{db}".main."{self.table}"'


_SAMPLES = {
    "result_key": "sha256 of (run, model, version, prompt-set hash, item, repeat): one row per key",
    "run_id": "the run (runs.run_id)",
    "model": "model name as in the catalog",
    "model_version": "the model's revision or weights hash",
    "backend": "inference backend (transformers, http, ...)",
    "prompt_set": "prompt set name",
    "prompt_set_hash": "content hash of the prompts this run used",
    "item_id": "prompt id within the set",
    "category": "the prompt's category",
    "repeat": "repeat index, 0-based",
    "seq": "order in which the run generated the sample",
    "status": "ok | error | timeout | skipped | cancelled",
    "error_kind": "oom, timeout, runtime, connection, ... (NULL when ok)",
    "error_message": "the error as raised (NULL when ok)",
    "attempts": "requests sent for the sample, retries included (HTTP)",
    "latency_ms": "end-to-end generation time, ms",
    "ttft_ms": "time to first token, ms",
    "decode_tps": "decode rate after the first token, tokens/s",
    "input_tokens": "prompt tokens",
    "output_tokens": "generated tokens",
    "token_source": "how tokens were counted: tokenizer | server_usage | tokenizer_fallback | stream_chunks",
    "peak_rss_mb": "peak resident memory of the process during the generation, MB",
    "peak_accel_mb": "peak accelerator memory during the generation, MB (NULL on CPU)",
    "mem_added_mb": "peak memory the generation added above the level before it, MB",
    "output_text": "the model's output (untrusted text)",
    "quality": "composite score 0..10 (NULL when no scorer applied)",
    "passed": "whether the sample passed its scorers",
    "scores": "JSON: scorer name -> score 0..1",
    "device": "device the model ran on",
    "dtype": "weights dtype",
    "fallback": "why the model fell back to another device (NULL when it did not)",
    "other_cpu": "CPU time other processes used on the measurement cores / the sample's wall time, cores",
    "started_at": "when the generation started, UTC",
    "finished_at": "when the generation finished, UTC",
}

_RUNS = {
    "run_id": "run id",
    "name": "the run's name",
    "status": "queued | running | completed | failed | cancelled | ...",
    "prompt_set": "prompt set name",
    "prompt_set_hash": "content hash of the prompts the run used",
    "planned": "samples planned (models x items x repeats)",
    "spec": "JSON: the run specification (models, generation parameters, repeats, seed, ...)",
    "manifest": "JSON: versions, device, machine and settings recorded with the run",
    "message": "the last status message",
    "created_at": "when the run was created, UTC",
    "queued_at": "when the run was queued for the worker, UTC",
    "updated_at": "last status change, UTC",
    "finished_at": "when the run ended, UTC",
    "mlflow_run_id": "the MLflow run mirroring it (NULL when not mirrored)",
    "mlflow_status": "state of the MLflow mirror",
}

_RUN_MODELS = {
    "run_id": "the run",
    "model": "model name",
    "model_version": "the model's revision or weights hash",
    "backend": "inference backend",
    "status": "the model's state in the run",
    "message": "why it failed or was skipped",
    "params": "parameters (count)",
    "weights_mb": "size of the weights, MB",
    "load_time_s": "time to load the model, s",
    "load_rss_mb": "resident memory after loading, MB",
    "model_footprint_mb": "memory the loaded model holds, MB",
    "cold_latency_ms": "latency of the first (cold) generation, ms",
    "device": "device",
    "dtype": "weights dtype",
    "fallback": "why it fell back to another device",
    "endpoint": "HTTP endpoint (HTTP backends)",
    "memory_note": "why memory is not measured, where it is not",
    "concurrency": "requests in flight (HTTP serving)",
    "requests_per_s": "completed requests per second (HTTP serving)",
    "output_tps": "output tokens per second over the serving run",
    "goodput": "share of requests within both goodput limits, 0..1",
    "goodput_ttft_ms": "goodput limit on time to first token, ms",
    "goodput_latency_ms": "goodput limit on latency, ms",
    "serving_wall_s": "wall time of the serving run, s",
    "energy_j": "measured energy, J",
    "power_w": "mean measured power, W",
    "power_source": "where power was read (NULL when not measured)",
}

_RATINGS = {
    "seq": "1, 2, ...: the order of submissions (the later one of a rater and answer wins in the statistics)",
    "created_at": "when it was submitted, UTC",
    "rater": "the name the rater gave (untrusted text)",
    "run_id": "the rated run",
    "mode": "absolute | pairwise",
    "item_id": "prompt id within the set",
    "repeat": "repeat index, 0-based",
    "model": "absolute: the rated model (NULL when pairwise; hidden from the rater)",
    "model_a": "pairwise: the model shown as Answer A",
    "model_b": "pairwise: the model shown as Answer B",
    "score": "absolute: the rating, on scale_min..scale_max (0-10)",
    "preference": "pairwise: A | B | tie, of the sides as shown",
    "comment": "the rater's comment (untrusted text)",
    "scale_min": "lowest score of the scale",
    "scale_max": "highest score of the scale",
    "seed": "the rater session's seed that ordered the queue and chose the sides",
    "origin": "dashboard | cli | test",
}

_JUDGEMENTS = {
    "seq": "order of the rows; the latest per sample and judge scorer (absolute) or per pair and order (pairwise) counts",
    "created_at": "UTC",
    "run_id": "the judged run",
    "result_key": "absolute: the judged sample (samples.result_key); NULL for pairwise",
    "model": "absolute: the judged model; NULL for pairwise",
    "item_id": "prompt id within the set",
    "repeat": "repeat index, 0-based",
    "scorer_key": "the sample's scores key (judge, judge#2, ...) | pairwise",
    "mode": "absolute | pairwise",
    "judge_model": "catalog name of the judge",
    "judge_version": "the judge's revision or weights hash",
    "rubric_hash": "sha256 of the rubric template",
    "cache_key": "sha256 of (judge version, rubric hash, judge prompt): equal keys reuse the verdict",
    "status": "ok | error (unparseable answer) | pending (judge unreachable; `python -m core judge` resumes it)",
    "score": "absolute: the parsed score on the scale",
    "value": "absolute: the score scaled to 0..1 (the samples.scores value)",
    "scale_min": "lowest score of the scale",
    "scale_max": "highest score of the scale",
    "model_a": "pairwise: the first model named",
    "model_b": "pairwise: the second model named",
    "answer_order": "pairwise: AB (model_a shown as Answer A) | BA (model_b shown as Answer A)",
    "preference": "pairwise: A | B | tie, of the answers as shown",
    "winner": "pairwise: the preferred model's name, or tie",
    "raw_text": "the judge's answer as generated (untrusted text)",
    "error_kind": "parse, connection, ... (NULL when ok)",
    "error_message": "the error (NULL when ok)",
    "cached": "copied from an earlier identical judgement: no model call, no cost",
    "input_tokens": "judge prompt tokens",
    "output_tokens": "judge answer tokens",
    "latency_ms": "the judge call's time, ms (never part of the judged sample's timing)",
    "cost_usd": "the judge call's cost, USD (NULL when no price is known)",
}

VIEWS: dict[str, ConsoleView] = {v.name: v for v in (
    ConsoleView("runs", "runs", "One row per run: its spec, status and timestamps.", _RUNS),
    ConsoleView("samples", "samples", "One row per generation (model x prompt x repeat): measurements, output, scores.",
                _SAMPLES),
    ConsoleView("run_models", "run_models", "One row per model of a run: load, memory, serving throughput, energy.",
                _RUN_MODELS),
    ConsoleView("models", "models", "Models added to the catalog from the dashboard or the CLI (the bundled "
                "catalog, data/models.yaml, is not in the database).",
                {"name": "model name", "spec": "JSON: source, revision, dtype, device, ...", "added_at": "UTC"}),
    ConsoleView("prompt_sets", "prompt_sets", "Imported prompt sets: the version each name currently points at.",
                {"name": "prompt set name", "description": "its description",
                 "content_hash": "current version (prompt_set_versions.content_hash)", "n_items": "prompts",
                 "created_at": "when this version became current, UTC"}),
    ConsoleView("prompt_set_versions", "prompt_set_versions", "Every stored version of every prompt set, with its prompts.",
                {"name": "prompt set name", "content_hash": "the version", "description": "its description",
                 "items": "JSON list of the prompts (id, prompt, reference, category, scorers, ...)",
                 "n_items": "prompts", "source": "imported | bundled", "created_at": "when it was stored, UTC"}),
    ConsoleView("champion_history", "champion_history", "Every promotion and rollback of the champion, append-only.",
                {"seq": "1, 2, ...: the order of events", "changed_at": "UTC (NULL for a setting adopted by the migration)",
                 "action": "promote | rollback | adopted", "run_id": "the champion's evaluation run",
                 "model": "the champion's model", "actor": "who (user and tool)", "note": "the note given",
                 "gate": "JSON: the gate result given as evidence", "evidence": "JSON: prompt set, its version, model version, ...",
                 "restores": "rollback: the seq of the row whose champion it restores"}),
    ConsoleView("ratings", "ratings", "Every blind human rating (Rate page), append-only: a correction or a second tab "
                "is a new row.", _RATINGS),
    ConsoleView("judgements", "judgements", "Every LLM-judge verdict (judge scorer, `python -m core judge`), "
                "append-only, with the judge's own tokens, time and cost.", _JUDGEMENTS),
)}

EXAMPLE_SQL = """\
-- samples, median latency (ms) and pass rate (share of samples) per model in the newest run
SELECT model,
       count(*) AS samples,
       round(median(latency_ms), 1) AS median_latency_ms,
       round(avg(passed::INTEGER), 3) AS pass_rate
FROM samples
WHERE run_id = (SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1)
  AND status = 'ok'
GROUP BY model
ORDER BY model
"""
