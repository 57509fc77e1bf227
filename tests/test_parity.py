"""Device and backend parity: the statistics on stored rows, the CLI, and local vs `transformers serve`."""
from __future__ import annotations

import json

import pytest
from helpers_http import MODEL_DIR, shared_server

from core import catalog, cli, prompts
from core.parity import parity_report, run_parity
from core.schemas import GenerationParams, RunSpec
from core.store import Store, now, result_key

pytestmark = pytest.mark.timeout(240)


def _stored_run(store: Store, outputs: dict[str, list[tuple[str, float, float]]], status_b: str = "ok") -> str:
    """A run with two models' rows (text, latency, quality per item), written through the real store."""
    ps = prompts.get_set("business-core").limited(len(next(iter(outputs.values()))))
    spec = RunSpec(models=tuple(outputs), prompt_set=ps.name, limit=len(ps.items), generation=GenerationParams(temperature=0.0))
    run_id = "parity-test"
    store.create_run(run_id, spec, ps, len(outputs) * len(ps.items), {}, 0)
    rows = []
    for model, triples in outputs.items():
        for seq, (item, (text, latency, quality)) in enumerate(zip(ps.items, triples, strict=True)):
            rows.append({
                "result_key": result_key(run_id, model, "v", ps.content_hash, item.id, 0), "run_id": run_id, "model": model,
                "model_version": "v", "backend": "t", "prompt_set": ps.name, "prompt_set_hash": ps.content_hash,
                "item_id": item.id, "category": item.category, "repeat": 0, "seq": seq,
                "status": status_b if (model == "b" and seq == 0) else "ok", "attempts": 1, "latency_ms": latency,
                "output_text": text, "quality": quality, "started_at": now(), "finished_at": now(),
            })
    store.append_samples(rows)
    return run_id


def test_report_counts_identical_decode_only_and_different(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    run_id = _stored_run(store, {
        "a": [("same", 100.0, 5.0), ("x\ufffd", 100.0, 5.0), ("one", 100.0, 5.0), ("z", 100.0, 4.0)],
        "b": [("same", 200.0, 5.0), ("x", 210.0, 5.0), ("two", 190.0, 3.0), ("z", 200.0, 4.0)],
    })
    r = parity_report(store, run_id, "a", "b")
    assert r.greedy and r.n_pairs == 4 and r.n_compared == 4
    assert [p.outcome for p in r.pairs] == ["identical", "decode_only", "different", "identical"]
    assert r.identical_share == 0.5 and r.decode_only == 1
    assert r.quality_diff.estimate == pytest.approx(-0.5)  # B - A, paired t interval
    assert r.quality_diff.method == "t" and r.quality_diff.low <= -0.5 <= r.quality_diff.high
    assert r.latency_ratio.estimate == pytest.approx(2.0)  # median B / median A, paired bootstrap
    assert r.latency_ratio.n_resamples == 2000 and r.latency_ratio.seed == 0 and r.latency_ratio.confidence == 0.95
    assert "bootstrap" in r.latency_ratio.method
    assert "95% CI" in r.summary()["latency_ratio_ci"]


def test_failed_samples_are_not_compared(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    run_id = _stored_run(store, {"a": [("s", 1.0, 1.0), ("t", 1.0, 1.0)], "b": [("s", 1.0, 1.0), ("t", 1.0, 1.0)]}, status_b="error")
    r = parity_report(store, run_id, "a", "b")
    assert [p.outcome for p in r.pairs] == ["failed", "identical"] and r.n_compared == 1 and r.identical_share == 1.0


def test_a_failed_sample_without_output_is_listed_not_a_crash(tmp_path):
    """An error row stores no output text (NaN in the frame): the mismatch table crashed on it."""
    store = Store(tmp_path / "p.duckdb")
    run_id = _stored_run(store, {"a": [("s", 1.0, 1.0), ("t", 1.0, 1.0)], "b": [(None, 1.0, None), ("t", 1.0, 1.0)]},
                         status_b="error")
    frame = parity_report(store, run_id, "a", "b").mismatch_frame()
    assert list(frame["outcome"]) == ["failed"] and list(frame["a"]) == ["s"] and list(frame["b"]) == [""]


def test_cli_parity_on_a_stored_run(tmp_path, capsys):
    db = tmp_path / "p.duckdb"
    store = Store(db)
    run_id = _stored_run(store, {"a": [("s", 1.0, 1.0), ("t", 2.0, 1.0)], "b": [("s", 1.0, 1.0), ("u", 2.0, 2.0)]})
    assert cli.main(["parity", run_id, "--a", "a", "--b", "b", "--db", str(db), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["identical_share"] == 0.5 and out["quality_diff"]["estimate"] == 0.5
    assert cli.main(["parity", run_id, "--a", "a", "--b", "b", "--db", str(db), "--require-identical", "1"]) == 1
    assert "1 pair(s) differ" in capsys.readouterr().out
    assert cli.main(["parity", run_id, "--a", "a", "--b", "nope", "--db", str(db)]) == 2


def _entries(**kinds_sources) -> dict:
    """A run manifest's catalog entries: name=(kind, source, content hash)."""
    return {"models": {n: {"kind": k, "source": src, "revision": None} for n, (k, src, _) in kinds_sources.items()},
            "model_versions": {n: v for n, (_, _, v) in kinds_sources.items()}}


def test_parity_refuses_different_weights_and_says_when_it_compares_paths(tmp_path, capsys):
    """Issue 11: parity defaulted to two different models and reported 'Identical outputs 8%'."""
    from core.parity import path_pairs, same_weights

    db = tmp_path / "p.duckdb"
    store = Store(db)
    run_id = _stored_run(store, {"a": [("s", 1.0, 1.0), ("t", 2.0, 1.0)], "b": [("s", 1.0, 1.0), ("u", 2.0, 2.0)]})
    store.update_manifest(run_id, _entries(a=("local", "/m/tiny", "sha256:1"), b=("local", "/m/base", "sha256:2")))
    with pytest.raises(ValueError, match="different models"):
        parity_report(store, run_id, "a", "b")
    assert cli.main(["parity", run_id, "--a", "a", "--b", "b", "--db", str(db)]) == 2
    assert "different models" in capsys.readouterr().err
    store.update_manifest(run_id, _entries(a=("local", "/m/tiny", "sha256:1"), b=("local", "/m/copy-of-tiny", "sha256:1")))
    assert parity_report(store, run_id, "a", "b").same_weights is True  # the same files under another path
    store.update_manifest(run_id, _entries(a=("local", "/m/tiny", "sha256:1"), b=("http", "http://127.0.0.1:1/v1", "http:x")))
    assert parity_report(store, run_id, "a", "b").same_weights is None
    assert cli.main(["parity", run_id, "--a", "a", "--b", "b", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "compare two paths, not two models" in out and "ratio of medians, B / A" in out
    manifest = _entries(x=("local", "/m/tiny", "v1"), y=("local", "/m/base", "v2"), z=("local", "/m/tiny", "v1"),
                        w=("http", "http://h/v1", "http:w"))
    assert same_weights(manifest, "x", "y") is False and same_weights(manifest, "x", "z") is True
    assert path_pairs(manifest, ["x", "y", "z", "w"]) == [("x", "z"), ("x", "w"), ("y", "w"), ("z", "w")]
    with pytest.raises(ValueError, match="different models"):  # refused before anything runs
        run_parity(store, "demo-tiny", "demo-base", "business-core", limit=1)
    assert set(store.runs_df()["run_id"]) == {run_id}


def test_parity_latency_ratio_with_repeats_is_the_ratio_of_medians(tmp_path):
    store = Store(tmp_path / "p.duckdb")
    run_id = _stored_run(store, {"a": [("s", 10.0, 1.0), ("t", 30.0, 1.0), ("u", 20.0, 1.0)],
                                 "b": [("s", 40.0, 1.0), ("t", 50.0, 1.0), ("u", 90.0, 1.0)]})
    rows = store.samples_df(run_id).assign(repeat=1, latency_ms=lambda d: d["latency_ms"] * 2)
    rows["result_key"] = rows["result_key"] + "-r1"
    store.append_samples(rows)
    r = parity_report(store, run_id, "a", "b")
    assert r.n_pairs == 6 and r.latency_ratio.method == "cluster-bootstrap"
    assert r.latency_ratio.estimate == pytest.approx(85.0 / 25.0)  # median of b's 6 runs over median of a's


@pytest.mark.slow
@pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(), reason=f"no model at {MODEL_DIR}")
def test_local_and_http_paths_give_identical_greedy_outputs(tmp_path):
    server = shared_server(MODEL_DIR)
    store = Store(tmp_path / "p.duckdb")
    store.add_model(catalog.make_spec("local-path", str(MODEL_DIR)))
    store.add_model(catalog.make_http_spec("http-path", server.base_url, server.served_model, endpoint="completions"))
    report = run_parity(store, "local-path", "http-path", "demo-qa", limit=5, max_new_tokens=16)  # bundled set
    assert report.n_compared == 5
    # same weights, same prompt text (the completions endpoint; chat would render the same), same greedy decoding
    assert report.identical_share == 1.0, [(p.item_id, p.a_text, p.b_text) for p in report.mismatches()]
    # equal outputs score equally (semantic similarity, if used, differs by float noise between encode batches)
    assert report.quality_diff.estimate == pytest.approx(0.0, abs=1e-5)
    assert report.latency_ratio.estimate > 0


def test_parity_report_keeping_mismatches_has_the_same_statistics(tmp_path):
    """keep='mismatches' (the Compare panel) builds only the pairs that differ or failed; every
    statistic is still over all pairs, equal to the full report's."""
    import dataclasses

    store = Store(tmp_path / "p.duckdb")
    run_id = _stored_run(store, {"a": [("x", 10.0, 5.0), ("y\ufffd", 20.0, 7.0), ("z", 30.0, 6.0), ("w", 15.0, 9.0)],
                                 "b": [("x", 12.0, 4.0), ("y", 25.0, 7.0), ("q", 33.0, 2.0), ("w", 14.0, 9.0)]}, status_b="error")
    full = parity_report(store, run_id, "a", "b")
    short = parity_report(store, run_id, "a", "b", keep="mismatches")
    assert [p.outcome for p in short.pairs] == ["failed", "decode_only", "different"]
    assert short == dataclasses.replace(full, pairs=tuple(full.mismatches()))
