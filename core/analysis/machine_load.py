"""How busy other processes kept the measurement cores while a run's samples were taken.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.analysis.to_json import finite
from core.measure import BUSY_MIN_SAMPLES, BUSY_OTHER_CPU, BUSY_SHARE_FLAG
from core.store import Store
from core.textfmt import share


@dataclass(frozen=True, eq=False)
class MachineLoadReport:
    """How busy other processes kept the measurement cores while a run's samples were taken
    (samples.other_cpu, core.measure.MachineLoad). A sample ran on a busy machine when
    other_cpu >= BUSY_OTHER_CPU cores; the run is flagged when more than BUSY_SHARE_FLAG of
    its samples did, or of one model's samples (a comparison is skewed by one model's load), and at
    least BUSY_MIN_SAMPLES did (one short sample's tick noise never flags a small run).
    n == 0 (runs stored before other_cpu was measured): share and mean None, never flagged.

    per_model columns: model, n, busy, busy_share, mean_other_cpu, flagged.
    """

    n: int
    busy: int
    share: float | None
    mean_other_cpu: float | None
    per_model: pd.DataFrame
    flagged: bool

    @property
    def flagged_models(self) -> list[tuple[str, float]]:
        """(model, busy share) of the models above the flag share, most affected first."""
        f = self.per_model[self.per_model["flagged"]].sort_values("busy_share", ascending=False)
        return [(str(m), float(s)) for m, s in zip(f["model"], f["busy_share"], strict=True)]

    @property
    def brief(self) -> str:
        """'34% of samples (120 of 352) on a busy machine (...), mean 0.41 cores; flagged ...'."""
        if not self.n:
            return "not recorded (the run was stored before other processes' CPU use was measured)"
        text = (f"{share(self.share)} of samples ({self.busy:,} of {self.n:,}) on a busy machine (other processes "
                f">= {BUSY_OTHER_CPU:g} cores), mean {self.mean_other_cpu:.2f} cores")
        return text + (f"; flagged (more than {BUSY_SHARE_FLAG:.0%})" if self.flagged else "")

    @property
    def note(self) -> str:
        """The one-line note shown for every run: 'Machine load: ...'."""
        return f"Machine load: {self.brief}"

    @property
    def text(self) -> str:
        """A plain-language line: the warning when flagged, else the note."""
        if not self.flagged:
            return self.note + "."
        models = "; ".join(f"{m} {share(s)}" for m, s in self.flagged_models) if len(self.per_model) > 1 else ""
        return (f"Busy machine: {share(self.share)} of samples ({self.busy:,} of {self.n:,}) ran while other processes used "
                f"at least {BUSY_OTHER_CPU:g} of a core on the measurement cores (mean {self.mean_other_cpu:.2f} cores)"
                + (f"; most affected: {models}" if models else "") + "; latency and throughput may be inflated.")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "busy": self.busy, "share": finite(self.share), "mean_other_cpu": finite(self.mean_other_cpu),
                "flagged": self.flagged, "busy_at": BUSY_OTHER_CPU, "flag_share": BUSY_SHARE_FLAG,
                "per_model": [{"model": str(r["model"]), "n": int(r["n"]), "busy": int(r["busy"]),
                               "share": finite(r["busy_share"]), "mean_other_cpu": finite(r["mean_other_cpu"]),
                               "flagged": bool(r["flagged"])} for r in self.per_model.to_dict("records")]}


def machine_load(store: Store, run_id: str) -> MachineLoadReport:
    """The machine-load report of a stored run (one SQL aggregate, Store.machine_load)."""
    pm = store.machine_load(run_id, BUSY_OTHER_CPU)
    pm["busy_share"] = pd.to_numeric(pm["busy_share"], errors="coerce")
    pm["mean_other_cpu"] = pd.to_numeric(pm["mean_other_cpu"], errors="coerce")
    pm["flagged"] = (pm["busy_share"].fillna(0.0) > BUSY_SHARE_FLAG) & (pm["busy"] >= BUSY_MIN_SAMPLES)
    n, busy = int(pm["n"].sum()), int(pm["busy"].sum())
    if not n:
        return MachineLoadReport(0, 0, None, None, pm, False)
    share = busy / n
    mean = float((pm["mean_other_cpu"].fillna(0.0) * pm["n"]).sum() / n)
    run_flag = share > BUSY_SHARE_FLAG and busy >= BUSY_MIN_SAMPLES
    return MachineLoadReport(n, busy, share, mean, pm, bool(run_flag or pm["flagged"].any()))
