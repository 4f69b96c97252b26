"""Widgets shared by the app's views and panes."""
