"""Rate: blind human ratings of a run's answers (absolute 0-10 or pairwise A/B/tie), then agreement and rankings."""
import streamlit as st

from ui import nav
from ui import rate

nav.guard(__file__)
st.title("Rate")
st.caption("Rate a run's answers without knowing which model wrote them. Your queue is in an order of your own "
           "(and, pairwise, with sides of your own), kept for when you come back. Every rating is stored; a second "
           "rating of the same answer counts instead of the first, and both stay in the history.")

choice = rate.choose()
if choice is not None:
    rate.rate_panel(choice)
    st.divider()
    if st.toggle("Show the results (reveals the model names)", key="rate.reveal",
                 help="Agreement between raters and with the judge, mean ratings and the preference ranking."):
        rate.results(choice.run_id)
