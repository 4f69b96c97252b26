"""Modal screens and panes opened from the app."""
