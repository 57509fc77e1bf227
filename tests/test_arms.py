"""core.arms: (run, model) arms across runs, paired by prompt when their prompt sets agree."""
from __future__ import annotations

import pytest

from bench.analysis import synthetic_run
from core import arms
from core.compare import pairwise
from core.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    s = Store(tmp_path_factory.mktemp("arms") / "arms.duckdb")
    synthetic_run(s, run_id="r1", n_models=2, n_items=30, repeats=1, error_rate=0.0)
    synthetic_run(s, run_id="r2", n_models=2, n_items=30, repeats=1, error_rate=0.0)
    return s


def test_arms_of_two_runs_on_one_version_are_paired_by_prompt(store):
    pair = [arms.parse_arm("r1:model-00"), arms.parse_arm("r2:model-01")]
    data = arms.load_arms(store, pair, ["latency_ms"])
    assert data.pairing.kind == "same-version" and data.labels == ["model-00@r1", "model-01@r2"]
    assert set(data.frame["model"]) == set(data.labels) and len(data.frame) == 60
    (c,) = pairwise(data.frame, ["latency_ms"])
    assert c.paired and c.n_pairs == 30


@pytest.mark.parametrize(("text", "message"), [
    ("r1", "an arm is RUN:MODEL"),
    ("nope:model-00", "unknown run 'nope'"),
    ("r1:model-09", "run r1 has no model 'model-09' (it ran: model-00, model-01)"),
])
def test_a_bad_arm_is_named(store, text, message):
    with pytest.raises(arms.ArmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        arms.load_arms(store, [arms.Arm("r2", "model-00"), arms.parse_arm(text)], ["latency_ms"])


def test_an_arm_listed_twice_or_alone_is_refused(store):
    one = arms.Arm("r1", "model-00")
    with pytest.raises(arms.ArmError, match="at least two arms"):
        arms.check_arms(store, [one])
    with pytest.raises(arms.ArmError, match="listed twice"):
        arms.check_arms(store, [one, one])


def test_memory_of_arms_on_different_kinds_of_device_is_refused(tmp_path):
    """Memory added per generation is process RSS on a CPU and accelerator memory on CUDA: arms of
    a CPU run and a CUDA run are not compared on it (they still are on latency)."""
    from core.analysis import compare_arms
    from tests.arm_support import make_run, prompt_set

    store = Store(tmp_path / "devices.duckdb")
    ids = [f"p{i:02d}" for i in range(12)]
    make_run(store, "cpu-run", prompt_set(store, "mem", ids), {"m": {}})
    make_run(store, "gpu-run", prompt_set(store, "mem", ids), {"m": {}})
    store.upsert_run_model({"run_id": "gpu-run", "model": "m", "model_version": "v1", "backend": "synthetic",
                            "cold_latency_ms": 300.0, "device": "cuda:0", "dtype": "float16", "status": "ok"})
    pair = ["cpu-run:m", "gpu-run:m"]
    with pytest.raises(arms.ArmError, match=r"not in the same units across these arms \(m@cpu-run on cpu, m@gpu-run on cuda\)"):
        compare_arms(store, pair, metrics=["mem_added"])
    assert compare_arms(store, pair, metrics=["latency"]).comparisons  # other metrics still compare


@pytest.mark.skipif(not __import__("tests.dashboard_support", fromlist=["x"]).demo_models_trained(),
                    reason="the demo models are not trained (scripts/train_demo_models.py)")
def test_arms_of_two_real_demo_runs_with_a_changed_prompt_set_version(tmp_path):
    """Issue 13's test: two real runs of a demo model; between them the set is re-imported with one
    prompt reworded. The changed prompt is listed and left out; the rest pair; the gate decides."""
    import json

    from core import gate, prompts
    from core.analysis import compare_arms
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec
    from tests.dashboard_support import prepare

    setup = prepare(tmp_path / "real.duckdb")
    store = setup.store
    items = [i.model_dump(exclude_none=True, exclude_defaults=True) for i in prompts.get_set(setup.prompt_set, store).items[:8]]

    def run_on(rows: list[dict], replace: bool) -> str:
        data = "\n".join(json.dumps(r) for r in rows).encode()
        prompts.import_bytes(store, data, filename="qa.jsonl", name="qa-real", replace=replace)
        runner = Runner(store)
        run_id = runner.create(RunSpec(models=(setup.tiny,), prompt_set="qa-real", device="cpu",
                                       generation=GenerationParams(max_new_tokens=6)))
        runner.execute(run_id)
        return run_id

    old = run_on(items, replace=False)
    reworded = [dict(r, prompt=r["prompt"] + " Answer briefly.") if k == 2 else r for k, r in enumerate(items)]
    new = run_on(reworded, replace=True)
    pair = [arms.Arm(old, setup.tiny), arms.Arm(new, setup.tiny)]
    how = arms.pairing(store, pair)
    assert how.kind == "changed-items" and how.changed == (items[2]["id"],) and len(how.shared) == 7
    comp = compare_arms(store, pair, metrics=["latency", "quality"])
    assert comp.notes[0].startswith("paired by prompt on 7 prompts") and "; 1 prompt changed between" in comp.notes[0]
    assert comp.notes[0].endswith("is left out")
    assert all(c.paired and c.n_pairs == 7 for c in comp.comparisons)
    result = gate.run_gate(store, pair[0], pair[1], gate.load_rules(gate.DEMO_GATE))
    assert {r.outcome for r in result.results} <= {"pass", "fail", "inconclusive"} and result.results
