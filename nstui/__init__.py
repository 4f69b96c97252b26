"""nstui: a terminal UI for Linux namespaces, cgroups and union mounts."""

__version__ = "0.1.0"
