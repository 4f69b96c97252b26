"""Layer inspector: browse a union mount's merged tree, each entry with the layer it comes
from and what it hides; beside it, the upper layer as a change set.

Directories are listed when expanded, in a thread worker (layer trees can be large and live
on slow disks); the change set is computed once, in a worker too.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from nstui.kernel.layers import Change, ChangeSet, MergedEntry
from nstui.kernel.union_mounts import UnionMount
from nstui.model.actions import Actions
from nstui.ui.widgets.keys_footer import KeysFooter

#: A directory shows at most this many entries (a Tree of 10,000 nodes takes ~0.7 s).
MAX_CHILDREN = 2000

#: The change table shows at most this many rows (a DataTable fills ~5,000 rows a second).
MAX_CHANGE_ROWS = 5000

#: What a change kind is called, and its style, in the change table.
CHANGE_STYLES: dict[str, str] = {
    "added": "green",
    "modified": "yellow",
    "deleted": "red",
    "opaque": "magenta",
}


def mounts_css_path() -> Path:
    return Path(str(files("nstui.styles").joinpath("mounts.tcss")))


def entry_label(entry: MergedEntry) -> Text:
    """How one merged-tree entry reads in the tree: name, layer, what it hides."""
    text = Text()
    if entry.whiteout:
        text.append(entry.name, style="strike dim")
        text.append(f"  deleted (whiteout in {entry.layer.name}", style="red")
        if entry.hides:
            text.append(", hides " + ", ".join(x.name for x in entry.hides), style="red")
        text.append(")", style="red")
        return text
    name = entry.name + ("/" if entry.kind == "dir" else "")
    text.append(name, style="bold" if entry.kind == "dir" else "")
    style = "cyan" if entry.layer.role == "upper" else "blue"
    if entry.kind == "dir" and len(entry.merged_from) > 1:
        text.append("  " + "+".join(x.name for x in entry.merged_from), style=style)
    else:
        text.append(f"  {entry.layer.name}", style=style)
    if entry.opaque:
        text.append("  opaque", style="magenta")
    if entry.redirect:
        text.append(f"  renamed from {entry.redirect}", style="magenta")
    if entry.hides:
        text.append("  hides " + ", ".join(x.name for x in entry.hides), style="yellow")
    if entry.copied_up and entry.layer.role == "upper":
        text.append("  copied up", style="yellow")
    return text


def entry_detail(entry: MergedEntry) -> str:
    lines = [f"/{entry.path}: {entry.kind} from {entry.layer.name} ({entry.layer.path})"]
    if entry.whiteout:
        lines[0] = f"/{entry.path}: deleted by a whiteout in {entry.layer.name}"
    if entry.merged_from and len(entry.merged_from) > 1:
        lines.append("merged directory of " + ", ".join(x.name for x in entry.merged_from))
    if entry.opaque:
        lines.append("opaque: nothing of the layers below shows through")
    if entry.redirect:
        lines.append(
            f"renamed directory (redirect_dir): its lower contents are at {entry.redirect}"
        )
    if entry.hides:
        lines.append("hides " + ", ".join(f"{x.name} ({x.path})" for x in entry.hides))
    if entry.copied_up:
        lines.append("copied up from a lower layer (overlay.origin xattr)")
    if entry.metacopy:
        lines.append("metadata only copied up (overlay.metacopy): data still in the lower")
    return "\n".join(lines)


def change_cells(change: Change) -> tuple[Text, str, str, str]:
    shadows = ", ".join(x.name for x in change.shadows)
    note = ""
    if change.kind == "modified":
        note = f"shadows {shadows}" + (" · copied up" if change.copied_up else "")
    elif change.kind == "deleted":
        note = f"whiteout over {shadows}"
    elif change.kind == "opaque":
        note = f"replaced dir, hides {shadows}"
    if change.redirect:
        note += f" · renamed from {change.redirect}"
    kind = Text(change.kind, style=CHANGE_STYLES.get(change.kind, ""))
    path = change.path + ("/" if change.file_kind == "dir" else "")
    return kind, path, change.file_kind, note


class LayerInspectorScreen(Screen[None]):
    """The merged tree of one union mount, entry by entry, and its upper change set."""

    CSS_PATH = mounts_css_path()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("c", "focus_changes", "Changes"),
        Binding("t", "focus_tree", "Tree"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ]

    def __init__(self, actions: Actions, mount: UnionMount) -> None:
        super().__init__(classes="layer-inspector")
        self.actions = actions
        self.union = mount
        self.changes: ChangeSet | None = None
        self._loaded: set[str] = set()

    def compose(self) -> ComposeResult:
        union = self.union
        yield Static(
            f"Layers of {union.target} ({union.kind}) in mount namespace {union.namespace.ns}",
            id="li-title",
        )
        yield Static(self._stack_text(), id="li-stack")
        with Horizontal(id="li-panes"):
            tree: Tree[MergedEntry | None] = Tree("/", data=None, id="li-tree")
            tree.border_title = "merged tree (entry ← layer)"
            yield tree
            with Vertical(id="li-changes-box"):
                table: DataTable[str | Text] = DataTable(
                    id="li-changes", cursor_type="row", zebra_stripes=True
                )
                table.border_title = "upper layer changes"
                yield table
                yield Static("computing the change set …", id="li-summary")
        yield Static("", id="li-entry")
        yield KeysFooter()

    def _stack_text(self) -> Text:
        stack = self.actions.mounts.layer_stack(self.union)
        text = Text()
        if not stack.layers:
            text.append("no layers known for this mount")
        for layer in stack.layers:
            text.append(f"{layer.name:<9}", style="bold")
            text.append(f"{layer.path}\n")
        if self.union.upper is None:
            text.append("read-only stack: no upper layer", style="italic")
        return text

    def on_mount(self) -> None:
        tree = self.query_one("#li-tree", Tree)
        tree.root.expand()
        tree.focus()
        table = self.query_one("#li-changes", DataTable)
        table.add_columns("CHANGE", "PATH", "KIND", "LAYERS")
        self._list_dir(tree.root, "")
        self._load_changes()

    # ----- merged tree ----------------------------------------------------------------------

    @work(thread=True, group="li-list", exit_on_error=False)
    def _list_dir(self, node: TreeNode[MergedEntry | None], rel: str) -> None:
        try:
            entries = self.actions.mounts.list_merged(self.union, rel)
        except OSError as exc:
            self.app.call_from_thread(self._listing_failed, node, str(exc))
            return
        self.app.call_from_thread(self._add_entries, node, rel, entries)

    def _add_entries(
        self, node: TreeNode[MergedEntry | None], rel: str, entries: list[MergedEntry]
    ) -> None:
        self._loaded.add(rel)
        node.remove_children()
        if not entries:
            node.add_leaf(Text("(empty)", style="dim"), data=None)
        for entry in entries[:MAX_CHILDREN]:
            if entry.kind == "dir":
                node.add(entry_label(entry), data=entry, allow_expand=True)
            else:
                node.add_leaf(entry_label(entry), data=entry)
        if len(entries) > MAX_CHILDREN:
            more = len(entries) - MAX_CHILDREN
            node.add_leaf(Text(f"… {more} more (see nstui overlay layers)", style="dim"))

    def _listing_failed(self, node: TreeNode[MergedEntry | None], error: str) -> None:
        node.add_leaf(Text(f"cannot list: {error}", style="red"), data=None)

    @on(Tree.NodeExpanded, "#li-tree")
    def _expanded(self, event: Tree.NodeExpanded[MergedEntry | None]) -> None:
        entry = event.node.data
        if entry is None or entry.kind != "dir" or entry.path in self._loaded:
            return
        event.node.add_leaf(Text("…", style="dim"), data=None)
        self._list_dir(event.node, entry.path)

    @on(Tree.NodeHighlighted, "#li-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[MergedEntry | None]) -> None:
        entry = event.node.data
        self.query_one("#li-entry", Static).update(entry_detail(entry) if entry else "")

    # ----- change set -----------------------------------------------------------------------

    @work(thread=True, group="li-changes", exit_on_error=False)
    def _load_changes(self) -> None:
        changes = self.actions.mounts.change_set(self.union)
        self.app.call_from_thread(self._show_changes, changes)

    def _show_changes(self, changes: ChangeSet) -> None:
        self.changes = changes
        table = self.query_one("#li-changes", DataTable)
        table.clear()
        for i, change in enumerate(changes.changes[:MAX_CHANGE_ROWS]):
            table.add_row(*change_cells(change), key=str(i))
        counts = changes.counts()
        summary = " · ".join(f"{n} {kind}" for kind, n in counts.items())
        if changes.note:
            summary = changes.note
        if changes.truncated:
            summary += " · stopped early: too many entries"
        if len(changes.changes) > MAX_CHANGE_ROWS:
            summary += f" · first {MAX_CHANGE_ROWS} shown (all: nstui overlay diff)"
        self.query_one("#li-summary", Static).update(summary)

    # ----- actions --------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_focus_changes(self) -> None:
        self.query_one("#li-changes", DataTable).focus()

    def action_focus_tree(self) -> None:
        self.query_one("#li-tree", Tree).focus()

    def action_down(self) -> None:
        focused = self.focused
        if isinstance(focused, (Tree, DataTable)):
            focused.action_cursor_down()

    def action_up(self) -> None:
        focused = self.focused
        if isinstance(focused, (Tree, DataTable)):
            focused.action_cursor_up()
