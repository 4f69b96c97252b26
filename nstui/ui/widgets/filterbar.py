"""The `/` filter line: filters every view as the user types."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Hidden until `/`; Enter keeps the filter and returns to the view, Escape clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter"),
    ]

    class Done(Message):
        """The user finished typing (Enter) or cleared the filter (Escape)."""

        def __init__(self, cleared: bool) -> None:
            super().__init__()
            self.cleared = cleared

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="filter: pid, command, user, namespace id, cgroup path, container",
            id=id,
        )

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Done(cleared=True))

    async def action_submit(self) -> None:
        self.post_message(self.Done(cleared=not self.value.strip()))
