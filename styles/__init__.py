"""Textual CSS for nstui; installed as the nstui.styles package."""
