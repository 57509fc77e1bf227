"""The command line: `python -m core COMMAND ...` (names are a contract for scripts and CI)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core import config

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class CliError(Exception):
    """A user error: printed as one clear line, exit status 2."""


def command(name: str):
    def deco(fn):
        COMMANDS[name] = fn
        return fn

    return deco


def _store(args: argparse.Namespace):
    from core.store import Store

    return Store(config.db_path(args.db))


def _print_df(df: pd.DataFrame, fmt: str = "table", out: str | None = None) -> None:
    if fmt == "json":
        text = df.to_json(orient="records", date_format="iso", indent=2)
    elif fmt == "csv":
        text = df.to_csv(index=False)
    else:
        text = df.to_string(index=False, float_format=lambda v: f"{v:,.2f}") if not df.empty else "(none)"
    if out:
        Path(out).write_text(text)
    else:
        print(text)


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from core.schemas import RunSpec  # loaded anyway by main() (core.catalog)

    p = argparse.ArgumentParser(prog="python -m core", description="Evaluate local LLMs: latency, memory, quality, cost.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--db", help=f"results store (default: ${config.ENV_DB} or {config.db_path(None)})")
        return sp

    r = add("run", "run models on a prompt set and store every sample")
    r.add_argument("--models", required=True, help="comma-separated catalog names, e.g. demo-tiny,demo-base")
    r.add_argument("--prompt-set", required=True)
    r.add_argument("--limit", type=int, help="first N items only")
    r.add_argument("--repeats", type=int, default=1)
    r.add_argument("--max-new-tokens", type=int, default=256, help="cap on generated tokens (items may ask for fewer)")
    r.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    r.add_argument("--top-p", type=float, default=1.0)
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    r.add_argument("--memory-budget", type=float, help="GB available for loaded models")
    r.add_argument("--timeout", type=float, default=60.0, help="per-sample time limit in seconds")
    r.add_argument("--max-failures", type=int, default=5, help="consecutive failures before a model is skipped")
    r.add_argument("--batch-size", type=int, default=RunSpec.batch_size,
                   help="most samples per store write (a batch is also written at least every 5 s)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--concurrency", type=int, default=1, help="requests in flight per HTTP model")
    r.add_argument("--goodput-ttft-ms", type=float, help="HTTP goodput: a request is good with TTFT at most this")
    r.add_argument("--goodput-latency-ms", type=float, help="HTTP goodput: ... and latency at most this")
    r.add_argument("--name", default="")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--queue", action="store_true",
                   help="hand the run to the evaluation worker (started if none is alive) instead of running it here")
    _mlflow_flags(r)

    w = add("worker", "the evaluation worker: runs queued runs one at a time in its own process")
    w.add_argument("--cores", help="measurement cores, e.g. 1-3 (default: all but one when there are at least two)")
    w.add_argument("--metrics-port", type=int, default=9464, help="Prometheus metrics on 127.0.0.1 (0 = any free port)")
    w.add_argument("--no-metrics", action="store_true", help="do not serve Prometheus metrics")
    w.add_argument("--idle-exit", type=float, help="exit after this many idle seconds (default: keep running)")
    w.add_argument("--log-path", help=argparse.SUPPRESS)  # set by the client that starts the worker

    c = add("cancel", "cancel a queued or running run (samples already stored are kept)")
    c.add_argument("run_id")

    rs = add("resume", "resume an interrupted or cancelled run")
    rs.add_argument("run_id")
    rs.add_argument("--no-progress", action="store_true")
    _mlflow_flags(rs)

    ls = add("runs", "list runs")
    ls.add_argument("--format", choices=["table", "json"], default="table")

    res = add("results", "export one record per sample")
    res.add_argument("run_id")
    res.add_argument("--format", choices=["csv", "json", "parquet"], default="csv")
    res.add_argument("--out")

    m = add("models", "list the model catalog, or add a model")
    m.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    m.add_argument("name", nargs="?")
    m.add_argument("source", nargs="?", help="local directory or Hugging Face id")
    m.add_argument("--revision")
    m.add_argument("--dtype", default="auto")
    m.add_argument("--device", default="auto")
    m.add_argument("--notes", default="")
    m.add_argument("--openai-base-url", help="add an OpenAI-compatible HTTP model")
    m.add_argument("--served-model")
    m.add_argument("--api-key-env", help="name of the environment variable holding the API key")
    m.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    m.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="extra HTTP header (repeatable; no secrets)")
    m.add_argument("--request-timeout", type=float, default=60.0, help="HTTP read timeout per request, seconds")
    m.add_argument("--max-concurrency", type=int, default=8, help="most requests in flight to this HTTP model")
    m.add_argument("--max-retries", type=int, default=3, help="HTTP retries after a 429/5xx/connection failure")
    m.add_argument("--tokenizer", help="HTTP: local dir or HF id to count tokens when the server reports no usage")
    m.add_argument("--price-model", help="HTTP price basis: per-token prices of PROVIDER:MODEL from the price package")
    m.add_argument("--usd-per-hour", type=float, help="HTTP price basis: hourly price of a self-hosted endpoint")
    m.add_argument("--format", choices=["table", "json"], default="table")

    ps = add("prompt-sets", "list prompt sets, or import one")
    ps.add_argument("action", nargs="?", choices=["list", "import", "delete", "show", "versions"], default="list")
    ps.add_argument("file", nargs="?", help="JSONL or CSV file (import) or set name (show/delete/versions)")
    ps.add_argument("--name")
    ps.add_argument("--description", default="")
    ps.add_argument("--replace", action="store_true",
                    help="import: replace an imported set of this name (runs made with its version keep it)")
    ps.add_argument("--format", choices=["table", "json"], default="table")

    for extra in EXTRA_PARSERS:
        extra(sub, add)
    return p


def _mlflow_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--mlflow-uri", help="MLflow tracking URI (default: $LLM_EVAL_MLFLOW_URI or sqlite:///<db folder>/mlflow.db)")
    sp.add_argument("--mlflow-experiment", help="MLflow experiment name (default: the prompt set's name)")


# Other modules (analysis, reports, tracking, parity) register their subcommands here.
EXTRA_PARSERS: list[Callable] = []


# ---------------------------------------------------------------------------- progress


LOG_EVERY_S = 10.0  # progress lines in a non-interactive log (CI): one per model event, else one every 10 s


def _progress(disabled: bool, interactive: bool | None = None):
    """A tqdm bar on a terminal; plain lines in a log (stderr not a terminal), at most every LOG_EVERY_S
    plus one per model loaded, finished or failed; nothing but failures with --no-progress."""
    if interactive is None:
        interactive = sys.stderr.isatty()
    if not interactive and not disabled:
        return _log_progress()
    from tqdm import tqdm

    bar = {"bar": None}

    def on_event(e) -> None:  # noqa: ANN001 - core.runner.ProgressEvent
        if disabled:
            if e.phase in ("model_failed",):
                print(f"! {e.message}", file=sys.stderr)
            return
        if e.phase == "planned":
            return
        if bar["bar"] is None:
            bar["bar"] = tqdm(total=e.planned, initial=e.done, unit="sample", file=sys.stderr, dynamic_ncols=True)
        b = bar["bar"]
        if e.phase == "sample" or e.phase == "model_done":
            b.n = e.done
            lat = f"{e.latency_ms:.0f}ms" if e.latency_ms else "-"
            b.set_postfix_str(f"{e.model} {e.model_done}/{e.model_planned} last {lat} errors {e.errors}")
        elif e.phase == "loading":
            b.set_postfix_str(f"loading {e.model}")
        elif e.phase == "model_failed":
            b.write(f"! {e.message}")
        elif e.phase == "run_done":
            b.n = e.done
            b.refresh()
            b.close()

    return on_event


def _log_progress():
    import time

    last = {"t": time.monotonic()}

    def line(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        last["t"] = time.monotonic()

    def on_event(e) -> None:  # noqa: ANN001 - core.runner.ProgressEvent
        if e.phase == "loading":
            line(f"{e.model}: loading ({e.model_done}/{e.model_planned} samples already stored)")
        elif e.phase == "model_done":
            line(f"{e.model}: {'done' if e.status != 'stopped' else 'stopped'} at {e.model_done}/{e.model_planned} "
                 f"samples; run {e.done}/{e.planned}, {e.errors} not ok")
        elif e.phase == "model_failed":
            line(f"! {e.message}")
        elif e.phase == "sample" and time.monotonic() - last["t"] >= LOG_EVERY_S:
            lat = f"{e.latency_ms:.0f} ms" if e.latency_ms else "-"
            left = f", about {e.eta_s:.0f} s left" if e.eta_s is not None else ""
            line(f"{e.model}: {e.model_done}/{e.model_planned} samples, last {lat}; run {e.done}/{e.planned}{left}")

    return on_event


def _execute(store, run_id: str, no_progress: bool, spec=None, args=None) -> int:  # noqa: ANN001
    from core.measure import CancelToken
    from core.runner import Runner
    from core.tracking import after_run_hooks

    cancel = CancelToken()

    def on_sigint(signum, frame):  # noqa: ANN001
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\ncancelling after the current generation (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.cancel()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        runner = Runner(store, on_event=_progress(no_progress), cancel=cancel, after_run=after_run_hooks(
            getattr(args, "mlflow_uri", None), getattr(args, "mlflow_experiment", None), announce=True))
        result = runner.execute(run_id)
    finally:
        signal.signal(signal.SIGINT, old)
    print(f"run {run_id}: {result.status} ({result.stored}/{result.planned} samples stored)")
    _print_df(store.latency_summary(run_id))
    serving = store.run_models_df(run_id)
    if "requests_per_s" in serving and serving["requests_per_s"].notna().any():  # HTTP models: throughput, goodput
        cols = ["model", "endpoint", "concurrency", "requests_per_s", "output_tps", "goodput"]
        _print_df(serving.loc[serving["requests_per_s"].notna(), cols])
    if result.status == "cancelled":
        print(f"resume with: python -m core resume {run_id} --db {store.path}")
    return 0


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if args.max_new_tokens < 1:
        raise CliError("--max-new-tokens must be at least 1")
    if args.timeout <= 0:
        raise CliError("--timeout must be positive")
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    spec = RunSpec(
        models=models,
        prompt_set=args.prompt_set,
        limit=args.limit,
        repeats=args.repeats,
        generation=GenerationParams(args.max_new_tokens, args.temperature, args.top_p),
        device=args.device,
        seed=args.seed,
        memory_budget_gb=args.memory_budget,
        timeout_s=args.timeout,
        max_consecutive_failures=args.max_failures,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        goodput_ttft_ms=args.goodput_ttft_ms,
        goodput_latency_ms=args.goodput_latency_ms,
        name=args.name,
    )
    store = _store(args)
    if args.queue:
        return _queue(store, spec)
    _refuse_if_measuring(store)
    run_id = Runner(store).create(spec)
    print(f"run id: {run_id}", flush=True)
    return _execute(store, run_id, args.no_progress, args=args)


def _refuse_if_measuring(store) -> None:  # noqa: ANN001
    """One measurement at a time per database: two would distort each other's timings."""
    from core import jobs

    busy = jobs.measuring_elsewhere(store)
    if busy:
        raise CliError(f"busy: run {busy[0]} is being measured on this database by process {busy[1]}; "
                       "queue yours with --queue (the worker runs it next) or wait")


def _queue(store, spec) -> int:  # noqa: ANN001
    from core import jobs

    q = jobs.RunQueue(store)
    (run_id,) = q.submit([spec], start_worker=False)
    print(f"run id: {run_id}", flush=True)
    try:
        info = q.ensure_worker()
    except jobs.WorkerStartError as exc:
        print(f"error: {exc}\n{exc.log_tail}", file=sys.stderr)
        return 2
    ahead = len(q.queued()) - 1
    what = f"busy with run {info.run_id}" if info.run_id else info.state
    print(f"queued for the worker (pid {info.pid}, {what}); {ahead} run(s) ahead of it. "
          f"Watch: python -m core runs --db {store.path}")
    return 0


@command("worker")
def cmd_worker(args: argparse.Namespace) -> int:
    from core import worker

    return worker.main(str(config.db_path(args.db)), args.cores, None if args.no_metrics else args.metrics_port,
                       args.idle_exit, args.log_path)


@command("cancel")
def cmd_cancel(args: argparse.Namespace) -> int:
    from core import jobs

    outcome = jobs.RunQueue(_store(args)).cancel(args.run_id)
    print({"dequeued": f"run {args.run_id} was queued: cancelled before it started",
           "requested": f"run {args.run_id}: cancel requested; it stops within the current generation",
           "idle": f"run {args.run_id} is not queued or running; nothing to cancel"}[outcome])
    return 0


@command("resume")
def cmd_resume(args: argparse.Namespace) -> int:
    store = _store(args)
    row = store.get_run(args.run_id)
    _refuse_if_measuring(store)
    print(f"resuming {row.run_id}: {row.done}/{row.planned} samples already done", flush=True)
    return _execute(store, args.run_id, args.no_progress, args=args)


@command("runs")
def cmd_runs(args: argparse.Namespace) -> int:
    df = _store(args).runs_df()
    cols = ["run_id", "name", "created_at", "status", "prompt_set", "done", "planned", "errors", "mlflow_status", "mlflow_run_id"]
    _print_df(df[cols] if not df.empty else pd.DataFrame(columns=cols), args.format)
    return 0


@command("results")
def cmd_results(args: argparse.Namespace) -> int:
    store = _store(args)
    store.get_run(args.run_id)
    df = store.samples_df(args.run_id)
    if args.format == "parquet":
        if not args.out:
            raise CliError("--format parquet needs --out FILE")
        df.to_parquet(args.out, index=False)
        print(f"wrote {len(df)} samples to {args.out}")
        return 0
    _print_df(df, args.format, args.out)
    if args.out:
        print(f"wrote {len(df)} samples to {args.out}")
    return 0


@command("models")
def cmd_models(args: argparse.Namespace) -> int:
    from core import catalog

    store = _store(args)
    if args.action == "add":
        if not args.name:
            raise CliError("usage: python -m core models add NAME SOURCE [--revision R] | NAME --openai-base-url URL --served-model M")
        if args.openai_base_url:
            if not args.served_model:
                raise CliError("--openai-base-url needs --served-model")
            headers = dict(h.split("=", 1) for h in args.header if "=" in h)
            if len(headers) != len(args.header):
                raise CliError("--header takes NAME=VALUE")
            basis = ({"kind": "hourly", "usd_per_hour": args.usd_per_hour} if args.usd_per_hour is not None
                     else {"kind": "tokens", "model": args.price_model} if args.price_model else {})
            spec = catalog.make_http_spec(
                args.name, args.openai_base_url, args.served_model, endpoint=args.endpoint, api_key_env=args.api_key_env,
                extra_headers=headers, request_timeout_s=args.request_timeout, max_concurrency=args.max_concurrency,
                max_retries=args.max_retries, price_basis=basis, tokenizer=args.tokenizer, notes=args.notes,
            )
        else:
            if not args.source:
                raise CliError("models add needs a SOURCE: a local model directory or a Hugging Face id")
            spec = catalog.make_spec(args.name, args.source, args.revision, args.dtype, args.device, args.notes)
        catalog.add_model(store, spec)
        info = catalog.describe(spec)
        print(f"added {spec.name} ({spec.kind}: {spec.source})")
        if not info.available:
            print(f"warning: {info.problem}", file=sys.stderr)
        return 0
    if args.action == "remove":
        if not store.delete_model(args.name or ""):
            raise CliError(f"no user-added model {args.name!r}")
        print(f"removed {args.name}")
        return 0
    rows = []
    for spec in catalog.all_specs(store).values():
        info = catalog.describe(spec)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "source": spec.source if spec.kind != "local" else str(Path(spec.source)),
                "params": info.params,
                "weights_mb": info.weights_mb,
                "est_memory_mb": info.estimated_mb,
                "version": info.version,
                "available": info.available,
                "bundled": spec.bundled,
            }
        )
    _print_df(pd.DataFrame(rows), args.format)
    return 0


@command("prompt-sets")
def cmd_prompt_sets(args: argparse.Namespace) -> int:
    from core import prompts

    store = _store(args)
    if args.action == "import":
        if not args.file or not args.name:
            raise CliError("usage: python -m core prompt-sets import FILE --name NAME")
        try:
            ps = prompts.import_set(store, args.file, args.name, args.description, replace=args.replace)
        except prompts.PromptSetExistsError as exc:
            raise CliError(f"{exc.errors[0].message.replace('Replace it', 'Pass --replace')}") from None
        print(f"imported {ps.name}: {len(ps.items)} items, version {ps.content_hash}")
        return 0
    if args.action == "versions":
        df = store.prompt_set_versions(args.file or "")
        if df.empty:
            raise CliError(f"no stored versions of {args.file!r} (a bundled set's version is stored when a run uses it)")
        _print_df(df, args.format)
        return 0
    if args.action == "delete":
        if not store.delete_prompt_set(args.file or ""):
            raise CliError(f"no imported prompt set {args.file!r} (bundled sets cannot be deleted)")
        print(f"deleted {args.file}")
        return 0
    if args.action == "show":
        ps = prompts.get_set(args.file or "", store)
        _print_df(pd.DataFrame([i.canonical() for i in ps.items]), args.format)
        return 0
    rows = [
        {"name": ps.name, "source": ps.source, "items": len(ps.items), "categories": ", ".join(ps.categories),
         "version": ps.content_hash, "description": ps.description}
        for ps in prompts.all_sets(store).values()
    ]
    _print_df(pd.DataFrame(rows), args.format)
    return 0


# ---------------------------------------------------------------------------- main


def _load_extensions() -> None:
    """Import modules that add subcommands (kept optional so the core CLI never breaks)."""
    import importlib

    for mod in ("core.analysis_cli", "core.reports_cli", "core.tracking", "core.parity"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def main(argv: list[str] | None = None) -> int:
    from core.catalog import CatalogError, ModelUnavailableError
    from core.prompts import PromptSetError
    from core.store import StoreBusyError

    _load_extensions()
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CliError, CatalogError, PromptSetError, ModelUnavailableError, StoreBusyError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def dump_json(obj) -> str:  # noqa: ANN001
    return json.dumps(obj, indent=2, default=str)
