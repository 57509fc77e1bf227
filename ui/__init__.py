"""Streamlit-only helpers shared by the dashboard pages (core/ never imports these)."""
