"""The main views: processes, namespaces and cgroups (mounts come from nstui.ui.widgets)."""
