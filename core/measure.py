"""Measurement primitives used inside the timed region: token timestamps, memory peaks,
deadline/cancel stopping, and the classification of failures into error kinds."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

import psutil

from core import devices

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"
_HAS_STATM = os.path.exists(_STATM)
_PROC = psutil.Process()


_statm_fd: int | None = None
_statm_pid = -1


def rss_bytes() -> int:
    """Current resident set size: one pread of /proc/self/statm on Linux (about 1.5 us with the
    file kept open, against 12 us for open/read/close; the token clock's fallback reads it at
    every token), psutil elsewhere."""
    global _statm_fd, _statm_pid
    if _HAS_STATM:
        pid = os.getpid()
        if _statm_fd is None or _statm_pid != pid:  # (re)open after a fork: /proc/self is per process
            _statm_fd, _statm_pid = os.open(_STATM, os.O_RDONLY), pid
        return int(os.pread(_statm_fd, 128, 0).split()[1]) * _PAGE
    return _PROC.memory_info().rss


class CancelToken:
    """Set from another thread (dashboard button, SIGINT handler); checked once per token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class GenerationStopped(Exception):
    """Raised after generate() returned because the deadline passed or the run was cancelled."""

    def __init__(self, kind: str, latency_ms: float, output_tokens: int) -> None:
        self.kind = kind  # "timeout" | "cancelled"
        self.latency_ms = latency_ms
        self.output_tokens = output_tokens
        self.message: str | None = None  # what to store instead of the generic timeout / cancelled message
        self.attempts = 1  # HTTP: requests sent for this sample (retries included)
        super().__init__(kind)


class UnsupportedOpError(RuntimeError):
    """An operation the device backend does not implement (MPS); the runner falls back to CPU."""


class _Abort(Exception):
    """Raised from TokenClock.put to end generate() at the deadline or on cancel."""


class _PeakRss:
    """The kernel's own peak-RSS counter for the current process (Linux >= 4.0).

    Writing "5" to /proc/self/clear_refs resets the high-water mark (VmHWM) to the current RSS;
    VmHWM read afterwards is the true peak since then, transients between tokens included, at no
    cost inside the timed region (reading RSS at every token cost 1.5-2% of a 5-6 ms
    generation: bench/token_clock.py). The mark is process-wide, so one measured window owns
    it at a time; a clock that cannot get it (another generation in flight in this process, no
    /proc, a kernel that refuses the write) samples RSS at every token instead.
    """

    _lock = threading.Lock()
    _usable: bool | None = None  # probed once per process

    @classmethod
    def acquire(cls) -> bool:
        if cls._usable is False or not cls._lock.acquire(blocking=False):
            return False
        if cls._reset():
            cls._usable = True
            return True
        cls._usable = False
        cls._lock.release()
        return False

    @classmethod
    def release(cls) -> int | None:
        """The peak since acquire() in bytes (None if unreadable), and gives the mark back."""
        try:
            return cls.read()
        finally:
            cls._lock.release()

    @staticmethod
    def _reset() -> bool:
        try:
            fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
            try:
                os.write(fd, b"5")
            finally:
                os.close(fd)
            return True
        except OSError:
            return False

    @staticmethod
    def read() -> int | None:
        try:
            with open("/proc/self/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return None


class TokenClock:
    """Streamer protocol (put/end) that timestamps each token as generate() hands it over.

    The first put() carries the prompt and is ignored. The device is synchronised before
    each clock read. Peak RSS comes from the kernel's high-water mark, reset by start() and read
    by stop(), both outside the timed region (see _PeakRss); where that is not available RSS is
    sampled at every token. Accelerator memory: CUDA's peak statistics, or on MPS a sample of the
    allocated memory at every token. With a deadline or a cancel token the clock also ends
    generation (raising out of generate() right after the token that crossed the line): one
    hook per token instead of a streamer plus a stopping criterion.

    Use: start(); generate(..., streamer=clock); t_end = perf_counter(); stop() (always, also
    when generate() raised: it gives the process-wide RSS mark back).

    mem_added_mb(): what the generation itself needed (KV cache, activations), the peak above
    the level at start(): accelerator memory on CUDA/MPS, RSS on CPU. peak_rss is the whole
    process's (interpreter, libraries, every loaded model): context, not the model's need. On
    CPU, memory an earlier generation freed but the allocator kept is reused without raising
    RSS, so the figure counts only what this generation needed beyond what the process held.
    """

    Abort = _Abort

    def __init__(self, device: str, deadline: float | None = None, cancel: CancelToken | None = None) -> None:
        self.device = device
        self.deadline = deadline
        self.cancel = cancel
        self.reason: str | None = None
        self.t0 = 0.0
        self.token_times: list[float] = []
        self.peak_rss = 0
        self.peak_accel = 0.0
        self.rss_start = 0  # bytes at start(): the level the generation's peak is measured above
        self.accel_start: float | None = None  # MB allocated on the accelerator at start()
        self._seen_prompt = False
        self._sample_accel = device == "mps"
        self._sync = device in ("cuda", "mps")
        self._sample_rss = True
        self._owns_mark = False

    def start(self) -> None:
        self._owns_mark = _PeakRss.acquire()
        self._sample_rss = not self._owns_mark
        self.peak_rss = self.rss_start = rss_bytes()
        self.accel_start = devices.accel_memory_mb(self.device) if self.device in ("cuda", "mps") else None
        self.peak_accel = self.accel_start or 0.0
        devices.reset_accel_peak(self.device)
        devices.synchronize(self.device)
        self.t0 = time.perf_counter()

    def stop(self) -> None:
        """After the timed region: fold in the kernel's peak and give the mark back."""
        if self._owns_mark:
            self._owns_mark = False
            peak = _PeakRss.release()
            if peak is not None and peak > self.peak_rss:
                self.peak_rss = peak

    def put(self, value) -> None:  # noqa: ANN001 - torch tensor
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        if self._sync:
            devices.synchronize(self.device)
        now = time.perf_counter()
        self.token_times.append(now)
        if self._sample_rss:
            rss = rss_bytes()
            if rss > self.peak_rss:
                self.peak_rss = rss
        if self._sample_accel:
            self.peak_accel = max(self.peak_accel, devices.accel_memory_mb(self.device) or 0.0)
        if self.cancel is not None and self.cancel.cancelled:
            self.reason = "cancelled"
        elif self.deadline is not None and now > self.deadline:
            self.reason = "timeout"
        if self.reason is not None:
            raise _Abort(self.reason)

    def end(self) -> None:
        pass

    def ttft_ms(self) -> float | None:
        return (self.token_times[0] - self.t0) * 1000.0 if self.token_times else None

    def accel_peak_mb(self) -> float | None:
        if self.device == "cuda":
            return devices.accel_peak_mb(self.device)
        if self.device == "mps":
            return self.peak_accel
        return None

    def mem_added_mb(self) -> float | None:
        """Peak memory the generation added above the level at start() (MB): accelerator
        memory on CUDA/MPS, RSS on CPU; None when not measurable."""
        if self.device in ("cuda", "mps"):
            peak = self.accel_peak_mb()
            if peak is None or self.accel_start is None:
                return None
            return max(0.0, peak - self.accel_start)
        return max(0, self.peak_rss - self.rss_start) / 2**20


BUSY_OTHER_CPU = 0.25  # a sample "ran on a busy machine" when other_cpu >= this (cores)
BUSY_SHARE_FLAG = 0.10  # a run (or model) is flagged when more than this share of its samples ran on a busy machine
BUSY_MIN_SAMPLES = 3  # ... and at least this many did: one short sample's tick noise never flags a small run

_PROC_STAT = "/proc/stat"
_HAS_PROC_STAT = os.path.exists(_PROC_STAT)
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
_LINE_BYTES = 256  # a "cpuN" line of /proc/stat is at most ~220 bytes (ten 20-digit counters)
_stat_fd: int | None = None
_stat_pid = -1

CoreTimes = tuple[tuple[float, float], ...]  # per core: (busy seconds, idle seconds), cumulative


def _proc_stat_times(cores: frozenset[int], last: int) -> CoreTimes | None:
    """(busy, idle) seconds of each core in `cores` (ascending) from the first lines of /proc/stat,
    one pread on a descriptor kept open. busy = user+nice+system+irq+softirq+steal (guest time
    is inside user and nice), idle = idle+iowait. None when a core is missing."""
    global _stat_fd, _stat_pid
    pid = os.getpid()
    if _stat_fd is None or _stat_pid != pid:
        _stat_fd, _stat_pid = os.open(_PROC_STAT, os.O_RDONLY), pid
    out = []
    for line in os.pread(_stat_fd, _LINE_BYTES * (last + 3), 0).split(b"\n")[1:]:  # line 1: the all-CPU total
        if not line.startswith(b"cpu"):
            break
        f = line.split()
        if len(f) > 8 and int(f[0][3:]) in cores:
            busy = int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7]) + int(f[8])
            out.append((busy * _TICK_S, (int(f[4]) + int(f[5])) * _TICK_S))
    return tuple(out) if len(out) == len(cores) else None


def _psutil_times(cores: frozenset[int]) -> CoreTimes | None:
    """The same from psutil (macOS and other systems without /proc/stat)."""
    try:
        per_cpu = psutil.cpu_times(percpu=True)
    except (OSError, NotImplementedError, AttributeError):
        return None
    if not per_cpu or max(cores) >= len(per_cpu):
        return None
    out = []
    for t in (per_cpu[i]._asdict() for i in sorted(cores)):
        idle = t.get("idle", 0.0) + t.get("iowait", 0.0)
        out.append((sum(v for k, v in t.items() if k not in ("idle", "iowait") and not k.startswith("guest")), idle))
    return tuple(out)


def _cores_busy_s(start: CoreTimes, stop: CoreTimes, wall: float) -> float:
    """Busy core-seconds over a window of `wall` seconds. A core that logged no busy tick in
    the window counts as idle (exact for an idle core); any other core is busy for the wall
    time minus its idle time. The idle counter is precise on tickless kernels (it is only
    rounded down to a tick when printed), so a core kept busy the whole window, by this
    process or another, reads exactly, where the busy counters (one tick charged to whatever
    runs at each tick) would be off by up to one tick per core, on every core at once."""
    return sum(wall - (i1 - i0) for (b0, i0), (b1, i1) in zip(start, stop, strict=True) if b1 > b0)


def _own_cpu_s() -> float:
    """CPU seconds of this process so far (every thread)."""
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime
    except ImportError:  # pragma: no cover - Windows
        t = _PROC.cpu_times()
        return t.user + t.system


def default_cores() -> tuple[int, ...]:
    """The cores this process may run on (its CPU affinity), else every core."""
    from core.affinity import available_cores

    return tuple(available_cores() or range(os.cpu_count() or 1))


class MachineLoad:
    """How busy OTHER processes kept the measurement cores during one generation, in cores.

    begin() right before generate() and end() right after it (both outside the timed region)
    give the CPU time other processes used on `cores` over that window divided by its wall
    time: 0.0 when nobody else ran there, 1.0 when another process kept one of those cores
    fully busy. It is the busy time of the cores (Linux: /proc/stat's per-CPU lines, read with
    one pread on a descriptor kept open; elsewhere psutil.cpu_times(percpu=True); see
    _cores_busy_s) minus this process's own CPU time (getrusage(RUSAGE_SELF), every thread),
    clamped at 0. `cores` should hold every core this process runs on (the default, its CPU
    affinity, does): its own time on a core outside the set would be subtracted anyway and
    hide others' load.

    Precision: the kernel counts core time in clock ticks (SC_CLK_TCK, 10 ms at 100 Hz), so a
    single short sample is quantised and noisy: up to about one tick per partly busy core over
    the sample's wall time (+-0.2 cores per such core on a 50 ms sample; a sample shorter than
    a tick can read 0 for a core that was busy). Cores kept busy the whole sample and idle
    cores read exactly, so a quiet machine reads 0. The rounding is unbiased, so the mean over
    a run and the share of busy samples (other_cpu >= BUSY_OTHER_CPU) are sound for samples
    of a few ticks or more, up to the clamp at 0, which lifts the mean by a fraction of a tick
    per noisy sample. Judge a run by its mean and busy share, never by one sample. (Measured on
    a 2-core VM: 15 ms samples of a core this process kept busy read 0.001 +- 0.002 cores, and
    0.50 +- 0.04 with a spinning process sharing the core; the plain sum of the busy counters
    read 0.0 +- 0.33 cores there, half of a quiet core's samples "busy".)

    Cost: begin() + end() take about 25 us together (timeit of 100,000 pairs on a 2-core Linux
    VM; the kernel formats all of /proc/stat on every read, so it grows with the machine's
    core and interrupt count). end() returns None when the counters cannot be read (no
    /proc/stat and no psutil support, or a core that does not exist).
    """

    def __init__(self, cores: Sequence[int] | None = None) -> None:
        self.cores = tuple(sorted(set(cores))) if cores is not None else default_cores()
        if not self.cores or min(self.cores) < 0:
            raise ValueError(f"cores must be core numbers >= 0, got {cores!r}")
        self._set = frozenset(self.cores)
        self._start: tuple[CoreTimes | None, float, float] | None = None

    def _core_times(self) -> CoreTimes | None:
        try:
            if _HAS_PROC_STAT:
                return _proc_stat_times(self._set, self.cores[-1])
            return _psutil_times(self._set)
        except (OSError, ValueError, IndexError):
            return None

    def _snapshot(self) -> tuple[CoreTimes | None, float, float]:
        return self._core_times(), _own_cpu_s(), time.perf_counter()

    def begin(self) -> None:
        """Snapshot the counters (right before a generation, outside the timed region)."""
        self._start = self._snapshot()

    def end(self) -> float | None:
        """Other processes' CPU-seconds on the cores / wall-seconds since begin() (cores)."""
        if self._start is None:
            raise RuntimeError("MachineLoad.end() called without begin()")
        (cores0, own0, t0), (cores1, own1, t1) = self._start, self._snapshot()
        self._start = None
        if cores0 is None or cores1 is None or t1 <= t0:
            return None
        wall = t1 - t0
        return max(0.0, _cores_busy_s(cores0, cores1, wall) - (own1 - own0)) / wall


OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "failed to allocate")
UNSUPPORTED_MARKERS = ("not implemented for", "not currently implemented", "not supported on mps", "unsupported on mps")


def classify_error(exc: BaseException) -> str:
    """Map an exception to an error kind, once, for every backend (a backend's classify_error hook
    adds the errors only it knows: the HTTP backend, the openai client's)."""
    kind = getattr(exc, "error_kind", None)  # errors that carry their kind (HTTPRequestError)
    if isinstance(kind, str) and kind:
        return kind
    if isinstance(exc, MemoryError):
        return "oom"
    text = f"{type(exc).__name__}: {exc}".lower()
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return "oom"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, RuntimeError) and any(m in text for m in OOM_MARKERS):
        return "oom"
    if isinstance(exc, UnsupportedOpError) or (
        isinstance(exc, NotImplementedError | RuntimeError) and "mps" in text and any(m in text for m in UNSUPPORTED_MARKERS)
    ):
        return "unsupported_op"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "runtime"
