"""The busy-machine notice of the Results and Compare pages: core.analysis.machine_load, cached
per run and data version (the pattern of ui/state.py), rendered as a warning when the run is
flagged and as a small caption with the share otherwise."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import streamlit as st

from ui import format as fmt
from ui import state

if TYPE_CHECKING:
    from core.analysis import MachineLoadReport


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _report(path: str, run_id: str, version: tuple) -> MachineLoadReport:
    from core import analysis

    return analysis.machine_load(state._store(path), run_id)


def report(run_id: str) -> MachineLoadReport:
    return _report(str(state.db_path()), run_id, state.run_version(run_id))


def notice(run_ids: Sequence[str]) -> None:
    """One line per run: st.warning when flagged, st.caption with the share when not."""
    for run_id in run_ids:
        r = report(run_id)
        text = (f"Run {run_id}: " if len(run_ids) > 1 else "") + (r.text if r.flagged else r.note)
        if r.flagged:
            st.warning(fmt.md_escape(text), icon=":material/speed:")
        else:
            st.caption(fmt.md_escape(text))
