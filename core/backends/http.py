"""OpenAI-compatible HTTP backend: vLLM, TGI, Ollama, llama.cpp, `transformers serve`, cloud APIs.

Built on the official `openai` client (HTTP, SSE parsing, timeouts, typed errors). Every
request streams, so TTFT and the decode rate are measured per token as for local models;
token counts come from the server's usage report, else from the model's tokenizer, else
from the streamed chunks (`token_source` says which).

Retries are ours, not the client's (it runs with `max_retries=0`), so that each attempt is
counted (`attempts` on every row), backoff never runs past the per-sample deadline, the
cancel button interrupts a backoff, and `Retry-After` on 429/503 is honoured exactly.
Latency and TTFT are those of the attempt that succeeded; goodput uses the end-to-end
times, retries included, because that is what a user of the endpoint waits.

The API key is read from the environment variable the catalog entry names, handed to the
client and scrubbed from every error message; it is never stored on a spec, row or log.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core import catalog
from core.backends.base import BackendBase, ModelRun
from core.backends.http_errors import (
    MAX_RETRY_AFTER_S,
    RETRYABLE,
    EndpointUnavailableError,
    HTTPRequestError,
    backoff_s,
    error_kind,
    retry_after_s,
    says_no_chat_template,
)
from core.backends.serving import (
    ConcurrentRequests,
    RequestRecord,
    ServingStats,
    breaker_for,
    effective_concurrency,
    serving_stats,
)
from core.measure import CancelToken, GenerationStopped, classify_error
from core.schemas import GenerationParams, Measurement, ModelSpec, PromptItem, RunSpec

MEMORY_NOTE = "not applicable: the model runs behind a remote HTTP endpoint, whose memory is not observable"
CONNECT_TIMEOUT_S = 10.0


# --------------------------------------------------------------------------- helpers


def safe_url(url: str | None) -> str:
    """The URL without user info, query or fragment: fit for messages and tables."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


# --------------------------------------------------------------------------- the backend


@dataclass
class _Streamed:
    text: str
    t0: float
    t_first: float | None
    t_end: float
    usage: object | None
    chunks: int


class OpenAIBackend(BackendBase):
    """One catalog entry of kind 'http'; thread-safe (the client is), so N threads may share it."""

    name = "openai-http"
    device = "remote"
    dtype = "n/a"
    fallback: str | None = None
    memory_note = MEMORY_NOTE
    runs_locally = False

    def __init__(self, spec: ModelSpec, run_spec: RunSpec) -> None:
        import openai

        if not spec.base_url or not spec.served_model:
            raise EndpointUnavailableError(f"model {spec.name!r}: an HTTP entry needs a base URL and a served model name")
        self.spec = spec
        self.run_spec = run_spec
        self.endpoint = safe_url(spec.base_url)
        self._secret = self._api_key()
        self.client = openai.OpenAI(
            base_url=spec.base_url,
            api_key=self._secret or "unused",
            max_retries=0,
            timeout=openai.Timeout(spec.request_timeout_s, connect=min(CONNECT_TIMEOUT_S, spec.request_timeout_s)),
            default_headers=dict(spec.extra_headers) or None,
        )
        self.breaker = breaker_for(self.endpoint, run_spec.max_consecutive_failures)
        self.max_attempts = 1 + max(0, spec.max_retries)
        self.records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._tokenizer = None
        self._tokenizer_lock = threading.Lock()

    # ------------------------------------------------------------------ runner hooks
    @classmethod
    def open(cls, mspec: ModelSpec, run_spec: RunSpec, models: Callable[[], Any], device: str | None = None) -> OpenAIBackend:
        """A client for the entry's endpoint (no model is loaded here: `models` and `device` are not used)."""
        return cls(mspec, run_spec)

    @classmethod
    def entry_columns(cls, mspec: ModelSpec) -> dict[str, Any]:
        """The served model's version, the endpoint (without secrets) and why no memory is recorded."""
        return {"model_version": catalog.model_version(mspec), "endpoint": safe_url(mspec.base_url), "memory_note": MEMORY_NOTE}

    def prepare(self, run: ModelRun) -> BackendBase:
        """N requests in flight (results come back in plan order) when the run and the entry allow more than one."""
        n_flight = effective_concurrency(self.spec, run.spec)
        if n_flight > 1:
            return ConcurrentRequests(self, run.items, run.seeds, run.spec, run.cancel, n_flight)
        return self

    def classify_error(self, exc: BaseException) -> str:
        """The kind a failed request carries; an openai error that escaped _call gets the same kinds."""
        kind = getattr(exc, "error_kind", None)
        if isinstance(kind, str) and kind:
            return kind
        return error_kind(exc) or classify_error(exc)

    def finish(self) -> dict[str, Any] | None:
        """Close the client; request throughput, output tokens/s and goodput of the model's requests."""
        self.close()
        stats = self.serving_stats()
        return stats.row() if stats else None

    def _api_key(self) -> str | None:
        var = self.spec.api_key_env
        if not var:
            return None
        value = os.environ.get(var)
        if not value:
            raise EndpointUnavailableError(
                f"model {self.spec.name!r}: environment variable {var} is not set; export it with the API key for {self.endpoint}"
            )
        return value

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    # ------------------------------------------------------------------ requests
    def prompt_text(self, item: PromptItem) -> str:
        """The completions prompt: as the local backend builds it for a model without a chat template."""
        return f"{item.system}\n\n{item.prompt}" if item.system else item.prompt

    def _request(self, item: PromptItem, params: GenerationParams, seed: int | None, max_new: int | None = None) -> tuple:
        n = max_new or min(item.max_new_tokens or params.max_new_tokens, params.max_new_tokens)
        kw: dict = {"model": self.spec.served_model, "max_tokens": n, "temperature": max(0.0, params.temperature),
                    "stream": True, "stream_options": {"include_usage": True}}
        if not params.greedy:
            kw["top_p"] = params.top_p
            if seed is not None:
                kw["seed"] = seed
        if self.spec.endpoint == "completions":
            return self.client.completions.create, {**kw, "prompt": self.prompt_text(item)}
        messages = ([{"role": "system", "content": item.system}] if item.system else []) + [
            {"role": "user", "content": item.prompt}
        ]
        return self.client.chat.completions.create, {**kw, "messages": messages}

    def _chunk_text(self, chunk) -> str:  # noqa: ANN001
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if self.spec.endpoint == "completions":
            return choice.text or ""
        delta = getattr(choice, "delta", None)
        return (getattr(delta, "content", None) or "") if delta is not None else ""

    def _stream_once(self, item: PromptItem, params: GenerationParams, deadline: float, cancel: CancelToken | None,
                     seed: int | None, max_new: int | None) -> _Streamed:
        import openai

        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise GenerationStopped("timeout", 0.0, 0)
        read = min(self.spec.request_timeout_s, remaining)
        create, kwargs = self._request(item, params, seed, max_new)
        timeout = openai.Timeout(read, connect=min(CONNECT_TIMEOUT_S, read))
        pieces: list[str] = []
        t_first = usage = None
        chunks = 0
        t0 = time.perf_counter()
        # ---- timed region: the request and its stream only ----
        stream = create(**kwargs, timeout=timeout)
        try:
            for chunk in stream:
                now = time.perf_counter()
                text = self._chunk_text(chunk)
                if text:
                    if t_first is None:
                        t_first = now
                    pieces.append(text)
                    chunks += 1
                if chunk.usage is not None:
                    usage = chunk.usage
                if cancel is not None and cancel.cancelled:
                    raise GenerationStopped("cancelled", (now - t0) * 1000.0, chunks)
                if now > deadline:
                    raise GenerationStopped("timeout", (now - t0) * 1000.0, chunks)
        finally:
            stream.close()
        t_end = time.perf_counter()
        # ---- end of timed region ----
        return _Streamed("".join(pieces).strip(), t0, t_first, t_end, usage, chunks)

    def _call(self, item: PromptItem, params: GenerationParams, deadline: float, cancel: CancelToken | None,
              seed: int | None, max_new: int | None = None, probe: bool = False) -> tuple[_Streamed, int]:
        """Attempts with backoff until one succeeds; raises HTTPRequestError / GenerationStopped with the attempts."""
        attempt, t_call = 0, time.perf_counter()
        while True:
            refused = None if probe else self.breaker.check()
            if refused:
                raise HTTPRequestError("circuit_open", refused, attempt, self.endpoint)
            attempt += 1
            try:
                result = self._stream_once(item, params, deadline, cancel, seed, max_new)
            except GenerationStopped as stop:
                if stop.kind == "timeout":
                    self.breaker.record(False, "timeout", "timeout")
                    stop.message = f"no complete answer from {self.endpoint} within the per-sample limit of {self.run_spec.timeout_s:g} s"
                stop.attempts = attempt
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; unknown errors re-raised
                kind = error_kind(exc)
                if kind is None:
                    raise
                message = self._scrub(f"{kind} from {self.endpoint} after {attempt} attempt(s): {type(exc).__name__}: {exc}")[:1000]
                if self.spec.endpoint == "chat" and kind in ("server_error", "bad_request") and says_no_chat_template(exc):
                    kind, message = "bad_request", self._no_template_message(message)  # the same every time: no retry
                delay = self._retry_delay(exc, kind, attempt, deadline)
                if delay is None:
                    self.breaker.record(False, kind, message)
                    if kind == "timeout":
                        stop = GenerationStopped("timeout", (time.perf_counter() - t_call) * 1000.0, 0)
                        stop.attempts, stop.message = attempt, message
                        raise stop from None
                    raise HTTPRequestError(kind, message, attempt, self.endpoint) from None
                self._sleep(delay, cancel, attempt)
                continue
            self.breaker.record(True)
            return result, attempt

    def _no_template_message(self, detail: str) -> str:
        return (f"the server at {self.endpoint} has no chat template for {self.spec.served_model!r}, so the chat endpoint "
                "cannot format the prompt; add the model with `--endpoint completions` (Models page: endpoint "
                f"'completions'), or serve it with a chat template. Server said: {detail}")[:1500]

    def _retry_delay(self, exc: BaseException, kind: str, attempt: int, deadline: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if kind not in RETRYABLE or attempt >= self.max_attempts:
            return None
        response = getattr(exc, "response", None)
        asked = retry_after_s(getattr(response, "headers", None)) if response is not None else None
        if asked is not None and asked > MAX_RETRY_AFTER_S:
            return None
        delay = asked * (1.0 + random.uniform(0, 0.1)) if asked is not None else backoff_s(attempt)
        return delay if time.perf_counter() + delay < deadline else None

    @staticmethod
    def _sleep(delay: float, cancel: CancelToken | None, attempts: int) -> None:
        end = time.perf_counter() + delay
        while (left := end - time.perf_counter()) > 0:
            if cancel is not None and cancel.cancelled:
                stop = GenerationStopped("cancelled", 0.0, 0)
                stop.attempts = attempts
                raise stop
            time.sleep(min(left, 0.05))

    # ------------------------------------------------------------------ tokens
    def tokenizer(self):
        """The model's tokenizer for the fallback counts (the entry's `tokenizer`), or None."""
        if not self.spec.tokenizer:
            return None
        with self._tokenizer_lock:
            if self._tokenizer is None:
                from pathlib import Path

                from transformers import AutoTokenizer

                from core import config

                src = self.spec.tokenizer
                path = Path(src) if Path(src).is_absolute() else config.ROOT / src
                self._tokenizer = AutoTokenizer.from_pretrained(str(path) if path.exists() else src, local_files_only=True)
            return self._tokenizer

    def _counts(self, item: PromptItem, streamed: _Streamed) -> tuple[int | None, int, str]:
        u = streamed.usage
        if u is not None and getattr(u, "completion_tokens", None) is not None:
            return getattr(u, "prompt_tokens", None), int(u.completion_tokens), "server_usage"
        tok = self.tokenizer()
        if tok is None:
            return None, streamed.chunks, "stream_chunks"
        if self.spec.endpoint == "chat" and getattr(tok, "chat_template", None):
            messages = ([{"role": "system", "content": item.system}] if item.system else []) + [
                {"role": "user", "content": item.prompt}
            ]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            n_in = len(tok(text, add_special_tokens=False)["input_ids"])  # as the local backend encodes it
        else:
            n_in = len(tok(self.prompt_text(item))["input_ids"])
        return n_in, len(tok(streamed.text, add_special_tokens=False)["input_ids"]), "tokenizer_fallback"

    # ------------------------------------------------------------------ protocol
    def warmup(self, item: PromptItem, params: GenerationParams) -> float:
        """One untimed request (a probe that bypasses an open breaker); a failure skips the model."""
        deadline = time.perf_counter() + self.run_spec.timeout_s
        try:
            streamed, _ = self._call(item, params, deadline, None, None, probe=True)
        except (HTTPRequestError, GenerationStopped) as exc:
            detail = getattr(exc, "message", None) or str(exc)
            raise EndpointUnavailableError(
                f"model {self.spec.name!r}: the endpoint {self.endpoint} (served model {self.spec.served_model!r}) "
                f"failed the warm-up request: {detail}"
            ) from None
        return (streamed.t_end - streamed.t0) * 1000.0

    def generate(self, item: PromptItem, params: GenerationParams, *, deadline: float, cancel: CancelToken | None,
                 seed: int | None) -> Measurement:
        t_call = time.perf_counter()
        try:
            streamed, attempts = self._call(item, params, deadline, cancel, seed)
        except (HTTPRequestError, GenerationStopped):
            self._record(RequestRecord(t_call, time.perf_counter(), False, None, (time.perf_counter() - t_call) * 1000.0, None))
            raise
        n_in, n_out, source = self._counts(item, streamed)
        e2e_ttft = (streamed.t_first - t_call) * 1000.0 if streamed.t_first is not None else None
        self._record(RequestRecord(t_call, streamed.t_end, True, e2e_ttft, (streamed.t_end - t_call) * 1000.0, n_out))
        return Measurement(
            text=streamed.text,
            latency_ms=(streamed.t_end - streamed.t0) * 1000.0,
            ttft_ms=(streamed.t_first - streamed.t0) * 1000.0 if streamed.t_first is not None else None,
            input_tokens=n_in,
            output_tokens=n_out,
            peak_rss_mb=None,  # not observable remotely: see memory_note, never zero
            peak_accel_mb=None,
            token_source=source,
            attempts=attempts,
        )

    def _record(self, rec: RequestRecord) -> None:
        with self._records_lock:
            self.records.append(rec)

    def serving_stats(self, concurrency: int = 1) -> ServingStats | None:
        with self._records_lock:
            records = list(self.records)
        return serving_stats(records, concurrency, self.run_spec.goodput_ttft_ms, self.run_spec.goodput_latency_ms)

    def close(self) -> None:
        self.client.close()
