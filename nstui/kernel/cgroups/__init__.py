"""cgroup v1 hierarchies and the v2 unified tree: discovery, walk, knobs and writes."""
