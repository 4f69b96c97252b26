"""Command-line entry points: ``nstui`` opens the TUI; subcommands print text or JSON."""
