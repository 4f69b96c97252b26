"""The one interface through which the UI changes anything on the host.

The UI holds an ``Actions`` and never calls the kernel itself. It is composed of one part per
domain, each defined (Protocol plus live implementation) in its own module:

- ``namespaces``: nstui.model.ns_actions (run in new namespaces, enter, keep, release)
- ``cgroups``: nstui.model.cgroup_actions (read knobs, write limits, freeze, kill, move, audit)
- ``mounts``: nstui.model.mount_actions (union mounts, layers, overlay mount/umount, dm)

Tests give the UI live actions (real kernel) or a recording stand-in with the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nstui.model.cgroup_actions import CgroupActions
    from nstui.model.mount_actions import MountActions
    from nstui.model.ns_actions import NsActions


@dataclass(frozen=True, slots=True)
class Actions:
    namespaces: NsActions
    cgroups: CgroupActions
    mounts: MountActions


def live_actions(**options: Any) -> Actions:
    """Actions that act on this host's kernel."""
    from nstui.model.cgroup_actions import LiveCgroupActions
    from nstui.model.mount_actions import LiveMountActions
    from nstui.model.ns_actions import LiveNsActions

    return Actions(
        namespaces=LiveNsActions(**options),
        cgroups=LiveCgroupActions(**options),
        mounts=LiveMountActions(**options),
    )
