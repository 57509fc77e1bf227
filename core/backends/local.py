"""Hugging Face transformers backend: generate() on a model held by the cached loader."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core import devices
from core.backends.base import BackendBase, LoopMeter, ModelRun
from core.loader import LoadedModel, ModelLoader
from core.measure import CancelToken, GenerationStopped, TokenClock, UnsupportedOpError, classify_error
from core.schemas import GenerationParams, Measurement, ModelSpec, PromptItem, RunSpec


class TransformersBackend(BackendBase):
    name = "transformers"

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.fallback = loaded.fallback
        self._prepared: dict[tuple, dict] = {}

    # ------------------------------------------------------------------ runner hooks
    @classmethod
    def open(cls, mspec: ModelSpec, run_spec: RunSpec, models: Callable[[], ModelLoader],
             device: str | None = None) -> TransformersBackend:
        """The model from the run's cached loader, on `device`, else the run's device ('auto': the loader picks)."""
        return cls(models().get(mspec, device=device or (run_spec.device if run_spec.device != "auto" else None)))

    def model_columns(self) -> dict[str, Any]:
        """The backend's columns and the loaded model's: version, size, load time and memory."""
        loaded = self.loaded
        return {
            **super().model_columns(),
            "model_version": loaded.version,
            "params": loaded.params,
            "weights_mb": loaded.weights_mb,
            "load_time_s": loaded.load_time_s,
            "load_rss_mb": loaded.load_rss_mb,
            "model_footprint_mb": loaded.footprint_mb,  # recorded at load: a cached model keeps it
        }

    def prepare(self, run: ModelRun) -> TransformersBackend:
        """Tokenise the model's items before its sample loop (see tokenise_ahead)."""
        self.tokenise_ahead(run.items, cancel=run.cancel)
        return self

    def start_meters(self) -> LoopMeter:
        """A started energy meter (NVML / RAPL) over the whole generation loop (not per sample); one that
        measures nothing when no counter is readable (the cost model then assumes a power profile)."""
        from core.power_meter import PowerMeter

        meter = PowerMeter()
        if not meter.available:
            return LoopMeter()
        meter.start()
        return EnergyMeter(meter)

    # ------------------------------------------------------------------ inputs
    def tokenise_ahead(self, items, cancel: CancelToken | None = None) -> None:  # noqa: ANN001 - iterable of PromptItem
        """Tokenise the items ahead of their samples. A tokenizer call right before generate()
        slowed that generation by 1-2% of 5 ms (bench/token_clock.py), which would be the harness
        slowing what it measures; the runner calls this once per model, before its sample loop.
        Items not prepared are tokenised on the fly."""
        for n, item in enumerate(items):
            if cancel is not None and n % 64 == 0 and cancel.cancelled:
                return
            key = _key(item)
            if key not in self._prepared:
                self._prepared[key] = self.encode(item)

    def encode(self, item: PromptItem):
        """Token ids for the item: the chat template when the tokenizer has one, else the raw prompt."""
        text, special = prompt_text(self.loaded.tokenizer, item)
        enc = self.loaded.tokenizer(text, return_tensors="pt", add_special_tokens=special)
        return {k: v.to(self.device) for k, v in enc.items()}

    def _gen_kwargs(self, item: PromptItem, params: GenerationParams, max_new: int | None = None) -> dict:
        tok = self.loaded.tokenizer
        n = min(item.max_new_tokens or params.max_new_tokens, params.max_new_tokens) if max_new is None else max_new
        kw = {
            "max_new_tokens": n,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            "do_sample": not params.greedy,
        }
        if not params.greedy:
            kw.update(temperature=params.temperature, top_p=params.top_p)
        return kw

    # ------------------------------------------------------------------ generation
    def warmup(self, item: PromptItem, params: GenerationParams) -> float:
        import torch

        inputs = self.encode(item)
        with self.loaded.lock, torch.inference_mode():
            devices.synchronize(self.device)
            t0 = time.perf_counter()
            self._call(inputs, self._gen_kwargs(item, params))
            devices.synchronize(self.device)
        return (time.perf_counter() - t0) * 1000.0

    def _call(self, inputs, kwargs):  # noqa: ANN001
        try:
            return self.loaded.model.generate(**inputs, **kwargs)
        except (RuntimeError, NotImplementedError) as exc:
            if self.device == "mps" and classify_error(exc) == "unsupported_op":
                raise UnsupportedOpError(str(exc)) from exc
            raise

    def generate(
        self, item: PromptItem, params: GenerationParams, *, deadline: float, cancel: CancelToken | None, seed: int | None
    ) -> Measurement:
        import torch

        clock = TokenClock(self.device, deadline=deadline, cancel=cancel)  # also ends generation at the deadline
        inputs = self._prepared.get(_key(item)) or self.encode(item)
        kwargs = {**self._gen_kwargs(item, params), "streamer": clock}
        if seed is not None and not params.greedy:
            torch.manual_seed(seed)
        with self.loaded.lock, torch.inference_mode():
            clock.start()
            try:
                # ---- timed region: generate only ----
                try:
                    out = self._call(inputs, kwargs)
                except TokenClock.Abort:
                    out = None
                devices.synchronize(self.device)
                t_end = time.perf_counter()
                # ---- end of timed region ----
            finally:
                clock.stop()
        latency_ms = (t_end - clock.t0) * 1000.0
        if out is None:
            raise GenerationStopped(clock.reason or "timeout", latency_ms, len(clock.token_times))
        n_in = int(inputs["input_ids"].shape[1])
        new = out[0, n_in:]
        text = self.loaded.tokenizer.decode(new, skip_special_tokens=True).strip()
        return Measurement(
            text=text,
            latency_ms=latency_ms,
            ttft_ms=clock.ttft_ms(),
            input_tokens=n_in,
            output_tokens=int(new.shape[0]),
            peak_rss_mb=clock.peak_rss / 2**20,
            peak_accel_mb=clock.accel_peak_mb(),
            mem_added_mb=clock.mem_added_mb(),
        )


class EnergyMeter(LoopMeter):
    """Energy of a model's whole generation loop from a started core.power_meter.PowerMeter."""

    def __init__(self, meter) -> None:  # noqa: ANN001 - core.power_meter.PowerMeter
        self.meter = meter

    def stop(self, seconds: float) -> dict[str, Any] | None:
        """run_models columns from a meter: joules, mean watts over the loop, and the source."""
        joules = self.meter.stop()
        if not joules or seconds <= 0:  # None, or a counter that did not move: not a measurement
            return None
        return {"energy_j": joules, "power_w": joules / seconds, "power_source": self.meter.source}


def prompt_text(tok, item: PromptItem) -> tuple[str, bool]:  # noqa: ANN001 - a transformers tokenizer
    """The text the model is given for the item and whether the tokenizer adds its special tokens:
    the chat template when the tokenizer has one (it holds them already), else the raw prompt."""
    if getattr(tok, "chat_template", None):
        messages = ([{"role": "system", "content": item.system}] if item.system else []) + [
            {"role": "user", "content": item.prompt}
        ]
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), False
    return (f"{item.system}\n\n{item.prompt}" if item.system else item.prompt), True


def _key(item: PromptItem) -> tuple:
    return (item.id, item.system, item.prompt)
