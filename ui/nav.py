"""Keep every request on app.py's router (st.navigation), even the first one after a restart.

Streamlit has a legacy mode for apps with a `pages/` folder: until some run of the main
script has called st.navigation, a request for /run executes pages/2_run.py directly,
without app.py (wrong layout, a sidebar listing raw file names). That happens when a tab
left open on a page reconnects to a freshly started server. `guard(__file__)`, the first
call of every page, notices it and goes through app.py once, then back to the page.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
_RETURN = "nav.return_to"


def _legacy_mode() -> bool:
    from streamlit import config

    if config.get_option("global.appTest"):
        # AppTest resets the flag before every run, so there it is always set; running the
        # page directly is harmless in tests, and a redirect would swallow widget events.
        return False
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the legacy mode
        return False
    return bool(getattr(PagesManager, "uses_pages_directory", False))


def guard(page_file: str) -> None:
    page = Path(page_file).resolve().relative_to(ROOT).as_posix()
    if _legacy_mode():
        st.session_state[_RETURN] = page
        st.switch_page("app.py")
    target = st.session_state.pop(_RETURN, None)
    if target and target != page:
        st.switch_page(target)
    from ui import state

    state.warm_up()
