"""Measurement primitives used inside the timed region: token timestamps, memory peaks,
deadline/cancel stopping, and the classification of failures into error kinds."""
from __future__ import annotations

import os
import sys
import threading
import time

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
        self._seen_prompt = False
        self._sample_accel = device == "mps"
        self._sync = device in ("cuda", "mps")
        self._sample_rss = True
        self._owns_mark = False

    def start(self) -> None:
        self._owns_mark = _PeakRss.acquire()
        self._sample_rss = not self._owns_mark
        self.peak_rss = rss_bytes()
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


OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "failed to allocate")
UNSUPPORTED_MARKERS = ("not implemented for", "not currently implemented", "not supported on mps", "unsupported on mps")


def classify_error(exc: BaseException) -> str:
    """Map an exception to an error kind, once, for every backend."""
    kind = getattr(exc, "error_kind", None)  # backends that classify their own failures (HTTP)
    if isinstance(kind, str) and kind:
        return kind
    if "openai" in sys.modules:  # an openai error that escaped the HTTP backend's own handling
        from core.backends.http import error_kind

        kind = error_kind(exc)
        if kind is not None:
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
