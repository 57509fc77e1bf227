"""Commands that run or manage evaluation runs: run, worker, cancel, resume, runs, results."""
from __future__ import annotations

import argparse
import signal
import sys

import pandas as pd

from core import config
from core.cli.common import CliError, command, open_store, print_df
from core.cli.progress import progress_printer


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    from core.schemas import RunSpec  # loaded anyway by main() (core.catalog)

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


def _mlflow_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--mlflow-uri", help="MLflow tracking URI (default: $LLM_EVAL_MLFLOW_URI or sqlite:///<db folder>/mlflow.db)")
    sp.add_argument("--mlflow-experiment", help="MLflow experiment name (default: the prompt set's name)")


def _execute(store, run_id: str, no_progress: bool, spec=None, args=None) -> int:  # noqa: ANN001
    from core import analysis_cache
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
        hooks = after_run_hooks(getattr(args, "mlflow_uri", None), getattr(args, "mlflow_experiment", None), announce=True)
        runner = Runner(store, on_event=progress_printer(no_progress), cancel=cancel,
                        after_run=[*hooks, analysis_cache.after_run])  # a large run's statistics, for the dashboard
        result = runner.execute(run_id)
    finally:
        signal.signal(signal.SIGINT, old)
    print(f"run {run_id}: {result.status} ({result.stored}/{result.planned} samples stored)")
    print_df(store.latency_summary(run_id))
    serving = store.run_models_df(run_id)
    if "requests_per_s" in serving and serving["requests_per_s"].notna().any():  # HTTP models: throughput, goodput
        cols = ["model", "endpoint", "concurrency", "requests_per_s", "output_tps", "goodput"]
        print_df(serving.loc[serving["requests_per_s"].notna(), cols])
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
    store = open_store(args)
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

    outcome = jobs.RunQueue(open_store(args)).cancel(args.run_id)
    print({"dequeued": f"run {args.run_id} was queued: cancelled before it started",
           "requested": f"run {args.run_id}: cancel requested; it stops within the current generation",
           "idle": f"run {args.run_id} is not queued or running; nothing to cancel"}[outcome])
    return 0


@command("resume")
def cmd_resume(args: argparse.Namespace) -> int:
    store = open_store(args)
    row = store.get_run(args.run_id)
    _refuse_if_measuring(store)
    print(f"resuming {row.run_id}: {row.done}/{row.planned} samples already done", flush=True)
    return _execute(store, args.run_id, args.no_progress, args=args)


@command("runs")
def cmd_runs(args: argparse.Namespace) -> int:
    df = open_store(args).runs_df()
    cols = ["run_id", "name", "created_at", "status", "prompt_set", "done", "planned", "errors", "mlflow_status", "mlflow_run_id"]
    print_df(df[cols] if not df.empty else pd.DataFrame(columns=cols), args.format)
    return 0


@command("results")
def cmd_results(args: argparse.Namespace) -> int:
    store = open_store(args)
    store.get_run(args.run_id)
    df = store.samples_df(args.run_id)
    if args.format == "parquet":
        if not args.out:
            raise CliError("--format parquet needs --out FILE")
        df.to_parquet(args.out, index=False)
        print(f"wrote {len(df)} samples to {args.out}")
        return 0
    print_df(df, args.format, args.out)
    if args.out:
        print(f"wrote {len(df)} samples to {args.out}")
    return 0
