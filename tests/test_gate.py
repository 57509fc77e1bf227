"""core.gate and `python -m core gate`: rules decided on interval bounds, hand-checked."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy import stats as sps

from core import gate
from core.arms import Arm
from core.cli.main import main
from core.stats import required_sample_size
from core.store import Store
from tests.arm_support import make_run, prompt_set

N = 20
Z = float(sps.norm.ppf(0.975))
BASE_Q = 5 + (np.arange(N) % 5) * 0.5
BASE_LAT = 100.0 + 10 * np.arange(N)
ALT = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
UNSURE_D = np.where(np.arange(N) % 2 == 0, 1.2, -1.8)  # mean -0.3, SD 1.5 * sqrt(20/19)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("gate") / "gate.duckdb")
    store = Store(path)
    ps = prompt_set(store, "gate-set", [f"p{i:02d}" for i in range(N)])
    make_run(store, "base", ps, {"m": {"quality": BASE_Q, "latency_ms": BASE_LAT}})
    make_run(store, "cand", ps, {
        "same": {"quality": BASE_Q + 0.1 * ALT, "latency_ms": BASE_LAT, "passed": np.ones(N)},
        "worse": {"quality": BASE_Q - 1 + 0.1 * ALT, "latency_ms": BASE_LAT * 1.5},
        "unsure": {"quality": BASE_Q + UNSURE_D, "latency_ms": BASE_LAT},
        "flaky": {"quality": BASE_Q},
    }, failed={"flaky": np.arange(N) < N // 2})
    other = prompt_set(store, "other-set", [f"x{i:02d}" for i in range(N)])
    make_run(store, "other", other, {"m": {"quality": BASE_Q}})
    return path


def _gate(db: str, candidate: str, *rules: str, **kw) -> gate.GateResult:  # noqa: ANN003
    return gate.run_gate(Store(db), Arm("base", "m"), Arm("cand", candidate), [gate.parse_rule(r) for r in rules], **kw)


def _t_interval(d: np.ndarray) -> tuple[float, float]:
    half = sps.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return d.mean() - half, d.mean() + half


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(("text", "metric", "threshold"), [
    ("quality >= -0.5", "quality", -0.5), ("pass_rate >= -2pp", "pass_rate", -0.02), ("passed>=-2pp", "pass_rate", -0.02),
    ("latency <= 1.10x", "latency", 1.10), ("error_rate <= 1%", "error_rate", 0.01), ("tokens_per_s >= 0.9x", "tokens_per_s", 0.9),
    ("mem_added <= 50MB", "mem_added", 50.0),
])
def test_rules_parse_into_the_metrics_units(text, metric, threshold):
    r = gate.parse_rule(text)
    assert r.metric == metric and r.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(("text", "message"), [
    ("accuracy >= -1", "unknown metric 'accuracy'"),
    ("quality >= 0.5", "margin of the wrong sign"),
    ("latency <= 0.9x", "margin of the wrong sign"),
    ("quality <= -0.5", "higher-is-better, so a rule bounds it with >="),
    ("latency <= 1.1", "latency margins are in a factor of the baseline (x)"),
    ("pass_rate >= -2", "pass_rate margins are in 'pp'"),
    ("error_rate <= 120%", "margin of the wrong sign"),
    ("quality is fine", "a rule is METRIC >= or <= NUMBER UNIT"),
])
def test_a_bad_rule_is_named(text, message):
    with pytest.raises(gate.GateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gate.parse_rule(text)


def test_the_demo_gate_file_loads():
    assert [r.metric for r in gate.load_rules("data/gates/demo.yaml")] == ["quality", "pass_rate", "latency", "error_rate"]
    with pytest.raises(gate.GateError, match="expected `rules:`"):
        gate.rules_from_text("quality: fine")


# --------------------------------------------------------------------------- decisions, hand-checked


def test_quality_pass_fail_and_inconclusive_on_the_lower_bound(db):
    ok, bad, unsure = (_gate(db, m, "quality >= -0.5").results[0] for m in ("same", "worse", "unsure"))
    for r, d in ((ok, 0.1 * ALT), (bad, -1 + 0.1 * ALT), (unsure, UNSURE_D)):
        low, high = _t_interval(d)  # paired t interval of candidate - baseline per prompt
        assert (r.interval.low, r.interval.high) == (pytest.approx(low), pytest.approx(high)) and r.n_prompts == N
    assert (ok.outcome, bad.outcome, unsure.outcome) == ("pass", "fail", "inconclusive")
    assert ok.prompts_needed is None and bad.prompts_needed is None
    # the observed -0.3 is 0.2 points from the margin: a paired t test with the observed SD of differences
    assert unsure.prompts_needed == required_sample_size(0.2, UNSURE_D.std(ddof=1), alpha=0.05).n > N
    assert f"about {unsure.prompts_needed:,} prompts would decide it" in unsure.sentence


def test_latency_ratio_is_decided_on_the_upper_bound(db):
    same, slow = (_gate(db, m, "latency <= 1.10x").results[0] for m in ("same", "worse"))
    assert (same.interval.estimate, same.interval.high, same.outcome) == (pytest.approx(1.0), pytest.approx(1.0), "pass")
    assert (slow.interval.low, slow.interval.estimate, slow.outcome) == (pytest.approx(1.5), pytest.approx(1.5), "fail")


def test_error_rate_uses_the_wilson_bound_of_the_candidate(db):
    clean = _gate(db, "same", "error_rate <= 1%", "error_rate <= 20%").results
    zero_high = Z**2 / (N + Z**2)  # Wilson upper bound of 0 / 20
    assert clean[0].interval.high == pytest.approx(zero_high) and clean[0].outcome == "inconclusive"
    assert clean[0].prompts_needed == math.ceil(Z**2 * (1 / 0.01 - 1))  # where 0/n's bound reaches 1%: 381
    assert clean[1].outcome == "pass"
    (flaky,) = _gate(db, "flaky", "error_rate <= 20%").results
    half = Z * math.sqrt(0.25 / N + Z**2 / (4 * N * N)) / (1 + Z**2 / N)
    assert flaky.interval.low == pytest.approx(0.5 - half) and flaky.outcome == "fail"


def test_inconclusive_fails_the_gate_unless_told_otherwise(db):
    assert not _gate(db, "unsure", "quality >= -0.5").passed
    assert _gate(db, "unsure", "quality >= -0.5", inconclusive="pass").passed
    assert _gate(db, "same", "quality >= -0.5", "pass_rate >= -2pp", "latency <= 1.10x").passed


def test_arms_without_shared_prompts_decide_nothing(db):
    with pytest.raises(gate.GateError, match="no paired prompts: the gate decides nothing"):
        gate.run_gate(Store(db), Arm("base", "m"), Arm("other", "m"), [gate.parse_rule("quality >= -0.5")])


# --------------------------------------------------------------------------- CLI


def _cli(db: str, candidate: str, *extra: str) -> int:
    return main(["gate", "--db", db, "--baseline", "base:m", "--candidate", f"cand:{candidate}", *extra])


def test_cli_exit_status_is_the_gates_decision(db, capsys):
    assert _cli(db, "same", "--rule", "quality >= -0.5", "--rule", "latency <= 1.10x") == 0
    assert "gate PASSED" in capsys.readouterr().out
    assert _cli(db, "worse", "--rule", "quality >= -0.5") == 1
    assert _cli(db, "unsure", "--rule", "quality >= -0.5") == 1
    assert _cli(db, "unsure", "--rule", "quality >= -0.5", "--inconclusive", "pass") == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--candidate", "cand:same", "--rule", "speed >= -1"], "unknown metric 'speed'"),
    (["--candidate", "cand:same", "--rule", "quality >= 1"], "margin of the wrong sign"),
    (["--candidate", "cand:nope", "--rule", "quality >= -1"], "run cand has no model 'nope'"),
    (["--candidate", "other:m", "--rule", "quality >= -1"], "no paired prompts: the gate decides nothing"),
    (["--candidate", "cand:same"], "no rules"),
    (["--candidate", "cand:same", "--rules", "missing.yaml"], "gate file 'missing.yaml' not found"),
])
def test_cli_bad_input_exits_2(db, capsys, args, message):
    assert main(["gate", "--db", db, "--baseline", "base:m", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_writes_junit_json_and_the_github_summary(db, tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "gate.xml"
    rc = _cli(db, "unsure", "--rule", "quality >= -0.5", "--rule", "latency <= 1.10x", "--rule", "error_rate <= 1%",
              "--junit", str(junit), "--json")
    assert rc == 1
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "llm-eval/gate/v1" and out["counts"] == {"pass": 1, "fail": 0, "inconclusive": 2}
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["quality >= -0.5", "latency <= 1.10x", "error_rate <= 1%"]
    assert [c.find("failure") is not None for c in cases] == [True, False, True] and suite.get("failures") == "2"
    assert cases[0].find("failure").get("type") == "inconclusive"
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "FAILED" in text and "| quality \\>= -0.5 | INCONCLUSIVE |" in text


def test_the_github_actions_example_is_the_documented_one_and_its_commands_parse():
    """docs/examples/eval-gate.yml is the workflow docs/ci-gate.md shows, and every `python -m core`
    command in it is accepted by the CLI's parser (a renamed flag would break users' pipelines)."""
    import re
    import shlex
    from pathlib import Path

    import yaml

    from core.cli.main import build_parser

    root = Path(__file__).resolve().parents[1]
    example = (root / "docs" / "examples" / "eval-gate.yml").read_text()
    assert example in (root / "docs" / "ci-gate.md").read_text()
    steps = yaml.safe_load(example)["jobs"]["gate"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps).replace("\\\n", " ")
    commands = [line.split("|")[0].strip() for line in script.splitlines() if "python -m core" in line]
    assert len(commands) == 3 and any(" gate " in c for c in commands)
    for line in commands:
        argv = shlex.split(re.sub(r'"\$\w+:', '"run-id:', line))[3:]  # after "python -m core"
        build_parser().parse_args(argv)  # exits 2 on an unknown flag
