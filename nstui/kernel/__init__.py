"""The only code in nstui that touches the kernel.

Syscalls go through cffi (``syscalls``); everything else is read from /proc, /sys/fs/cgroup
and mountinfo. Nothing here imports textual, rich or the model layer.
"""
