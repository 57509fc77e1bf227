"""The token clock: timestamps, stopping, and the peak RSS it reports (kernel high-water mark)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import measure
from core.measure import CancelToken, TokenClock, _PeakRss, rss_bytes
from tests.conftest import demo_available

linux_hwm = pytest.mark.skipif(not sys.platform.startswith("linux") or not _PeakRss._reset(),
                               reason="needs /proc/self/clear_refs (Linux >= 4.0)")

MB = 2**20


def _transient(mb: int) -> None:
    """Touch `mb` MB and free it again: RSS rises and falls back before the next token."""
    a = np.ones(mb * MB // 8)
    del a


def _generate(clock: TokenClock, tokens: int) -> TokenClock:
    """What generate() does with a streamer: the prompt, then one put per new token."""
    clock.start()
    clock.put("prompt ids")
    for _ in range(tokens):
        clock.put("token")
    clock.stop()
    return clock


def test_clock_ignores_prompt_and_stamps_tokens():
    clock = _generate(TokenClock("cpu"), 3)
    assert len(clock.token_times) == 3
    assert clock.token_times == sorted(clock.token_times) and clock.token_times[0] >= clock.t0
    assert 0 <= clock.ttft_ms() < 10_000
    assert clock.accel_peak_mb() is None  # CPU: no accelerator memory, never a fake zero


@linux_hwm
def test_peak_rss_catches_a_transient_between_tokens():
    """Per-token sampling cannot see memory allocated and freed between two tokens; the kernel's
    high-water mark does."""
    clock = TokenClock("cpu")
    clock.start()
    base = rss_bytes()
    clock.put("prompt")
    clock.put("token")
    _transient(300)
    clock.put("token")
    assert rss_bytes() - base < 150 * MB  # the transient is gone by the time of the token
    clock.stop()
    assert clock.peak_rss - base >= 250 * MB


@linux_hwm
def test_peak_rss_is_per_window_not_per_process():
    _transient(300)  # an earlier peak must not leak into the next sample
    clock = _generate(TokenClock("cpu"), 1)
    assert clock.peak_rss - rss_bytes() < 100 * MB


@linux_hwm
def test_mem_added_is_the_generation_peak_above_what_the_process_held():
    """The issue's 'peak memory' was the whole process's RSS (880-905 MB for a 2 MB model):
    mem_added_mb counts only what the window itself needed above the level at start()."""
    held = np.ones(200 * MB // 8)  # held before and during the window: the process's, not the generation's
    clock = TokenClock("cpu")
    clock.start()
    clock.put("prompt")
    clock.put("token")
    _transient(100)
    clock.put("token")
    clock.stop()
    assert 80 <= clock.mem_added_mb() < 150
    assert clock.peak_rss / MB >= 200 + clock.mem_added_mb()  # the process peak holds everything
    quiet = _generate(TokenClock("cpu"), 2)
    assert quiet.mem_added_mb() < 20 < 200 <= quiet.peak_rss / MB
    del held


def test_mem_added_on_an_accelerator_is_its_memory_not_rss(monkeypatch):
    """CUDA (no GPU here: the allocator's counters are simulated): allocated at start 500 MB,
    peak 740 MB -> 240 MB added, whatever RSS did."""
    monkeypatch.setattr(measure.devices, "accel_memory_mb", lambda d: 500.0)
    monkeypatch.setattr(measure.devices, "accel_peak_mb", lambda d: 740.0)
    monkeypatch.setattr(measure.devices, "reset_accel_peak", lambda d: None)
    monkeypatch.setattr(measure.devices, "synchronize", lambda d: None)
    clock = _generate(TokenClock("cuda"), 2)
    assert clock.mem_added_mb() == pytest.approx(240.0)
    assert clock.accel_peak_mb() == pytest.approx(740.0)


@linux_hwm
def test_second_concurrent_clock_falls_back_to_sampling():
    first, second = TokenClock("cpu"), TokenClock("cpu")
    first.start()
    second.start()  # the mark is taken: this one samples RSS at every token
    assert first._owns_mark and not first._sample_rss
    assert not second._owns_mark and second._sample_rss
    second.put("prompt")
    base = rss_bytes()
    grow = np.ones(200 * MB // 8)  # still held at the token, so sampling sees it
    second.put("token")
    second.stop()
    first.stop()
    assert second.peak_rss - base >= 150 * MB
    del grow
    third = TokenClock("cpu")  # given back: the next window owns the mark again
    third.start()
    assert third._owns_mark
    third.stop()


def test_without_kernel_mark_every_token_is_sampled(monkeypatch):
    monkeypatch.setattr(_PeakRss, "_usable", False)
    seen = []
    monkeypatch.setattr(measure, "rss_bytes", lambda: seen.append(1) or 123 * MB)
    clock = _generate(TokenClock("cpu"), 4)
    assert len(seen) == 1 + 4 and clock.peak_rss == 123 * MB


def test_deadline_and_cancel_abort_after_the_token():
    clock = TokenClock("cpu", deadline=time.perf_counter() - 1)
    clock.start()
    clock.put("prompt")
    with pytest.raises(TokenClock.Abort):
        clock.put("token")
    clock.stop()
    assert clock.reason == "timeout" and len(clock.token_times) == 1

    cancel = CancelToken()
    clock = TokenClock("cpu", deadline=time.perf_counter() + 60, cancel=cancel)
    clock.start()
    clock.put("prompt")
    clock.put("token")
    threading.Thread(target=cancel.cancel).start()
    time.sleep(0.05)
    with pytest.raises(TokenClock.Abort):
        clock.put("token")
    clock.stop()
    assert clock.reason == "cancelled" and len(clock.token_times) == 2


@pytest.mark.skipif(not demo_available("demo-tiny"), reason="demo models not built")
def test_aborted_generation_gives_the_mark_back(loader):
    """The backend calls stop() also when generate() raised, or no later sample could own the mark."""
    from core import catalog, prompts
    from core.backends.local import TransformersBackend
    from core.measure import GenerationStopped
    from core.schemas import GenerationParams

    backend = TransformersBackend(loader.get(catalog.get_spec("demo-tiny")))
    item = prompts.get_set("demo-qa").items[0]
    with pytest.raises(GenerationStopped):
        backend.generate(item, GenerationParams(max_new_tokens=8), deadline=time.perf_counter() - 1, cancel=None, seed=None)
    assert _PeakRss._lock.acquire(blocking=False)
    _PeakRss._lock.release()
    m = backend.generate(item, GenerationParams(max_new_tokens=8), deadline=time.perf_counter() + 60, cancel=None, seed=None)
    assert m.peak_rss_mb > 0 and m.output_tokens > 0


@pytest.mark.skipif(not demo_available("demo-tiny"), reason="demo models not built")
def test_runner_tokenises_before_the_sample_loop(store, loader, monkeypatch):
    """No tokenizer call between samples: it slowed the generation right after it (see
    TransformersBackend.prepare). Every sample's generate() finds its inputs prepared."""
    from core.backends.local import TransformersBackend
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec

    calls: list[str] = []
    encode, call = TransformersBackend.encode, TransformersBackend._call
    monkeypatch.setattr(TransformersBackend, "encode", lambda self, item: calls.append("encode") or encode(self, item))
    monkeypatch.setattr(TransformersBackend, "_call", lambda self, i, kw: calls.append("generate") or call(self, i, kw))
    spec = RunSpec(models=("demo-tiny",), prompt_set="demo-qa", limit=5, repeats=2, device="cpu",
                   generation=GenerationParams(max_new_tokens=4))
    runner = Runner(store, loader=loader)
    run_id = runner.create(spec)
    runner.execute(run_id)
    assert calls[:2] == ["encode", "generate"]  # the untimed warm-up
    rest = calls[2:]
    assert rest == ["encode"] * 5 + ["generate"] * 10  # 5 items tokenised once, 2 repeats each
    assert (store.samples_df(run_id)["status"] == "ok").all()


# --------------------------------------------------------------------------- machine load

linux_affinity = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "sched_setaffinity")
                                    or not os.path.exists("/proc/stat") or not os.sched_getaffinity(0),
                                    reason="needs Linux CPU affinity and /proc/stat")


@pytest.fixture
def one_core():
    """The test thread pinned to one core of its affinity for the test (restored after)."""
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def _window(load: measure.MachineLoad, seconds: float, burn: bool = False) -> float | None:
    load.begin()
    t0 = time.perf_counter()
    if burn:
        while time.perf_counter() - t0 < seconds:
            pass
    else:
        time.sleep(seconds)
    return load.end()


@linux_affinity
def test_machine_load_of_an_idle_window_is_small(one_core):
    """Other engineers' processes may share this machine: the quietest of a few windows counts."""
    load = measure.MachineLoad()
    assert load.cores == (one_core,)
    values = [_window(load, 0.2) for _ in range(5)]
    assert all(v is not None and v >= 0.0 for v in values)
    assert min(values) < 0.2


@linux_affinity
def test_machine_load_sees_a_busy_process_on_the_same_core(one_core):
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(child.pid, {one_core})
        time.sleep(0.2)  # the interpreter starts and spins
        value = _window(measure.MachineLoad([one_core]), 0.5)
    finally:
        child.kill()
        child.wait()
    assert value is not None and value > 0.3


@linux_affinity
def test_machine_load_does_not_count_its_own_cpu(one_core):
    load = measure.MachineLoad([one_core])
    values = [_window(load, 0.3, burn=True) for _ in range(3)]
    assert min(values) < 0.25


def test_machine_load_falls_back_to_psutil_and_to_none(monkeypatch):
    monkeypatch.setattr(measure, "_HAS_PROC_STAT", False)
    load = measure.MachineLoad()
    value = _window(load, 0.05)
    assert value is not None and value >= 0.0
    monkeypatch.setattr(measure.psutil, "cpu_times", lambda percpu=False: (_ for _ in ()).throw(OSError("no counters")))
    assert _window(load, 0.01) is None


def test_machine_load_rejects_misuse():
    with pytest.raises(RuntimeError, match="without begin"):
        measure.MachineLoad().end()
    with pytest.raises(ValueError):
        measure.MachineLoad([])
    assert _window(measure.MachineLoad([10_000]), 0.01) is None  # a core that does not exist: unmeasurable, not 0


def test_machine_load_module_imports_no_torch():
    code = "import sys; import core.measure; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "False"


def test_core_busy_time_reads_busy_and_idle_cores_exactly():
    """Per core (busy s, idle s): no busy tick in the window -> idle; else wall minus the idle time."""
    start = ((10.0, 50.0), (20.0, 40.0), (30.0, 30.0))
    stop = ((10.0, 50.1), (20.1, 40.0), (30.05, 30.04))  # idle core, busy core, core busy part of the window
    assert measure._cores_busy_s(start, stop, 0.1) == pytest.approx(0.0 + 0.1 + 0.06)


@linux_affinity
def test_short_windows_on_a_core_this_process_keeps_busy_are_not_busy(one_core):
    """1.5 ticks per window: the plain busy-tick sum reads +-0.67 cores here, half the windows 'busy'."""
    load = measure.MachineLoad([one_core])
    shares = []
    for _ in range(3):  # other engineers' processes may land on the core for real: the quietest attempt counts
        values = [_window(load, 0.015, burn=True) for _ in range(30)]
        shares.append(np.mean([v >= measure.BUSY_OTHER_CPU for v in values]))
    assert min(shares) < 0.2
