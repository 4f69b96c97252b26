"""Remember the Textual theme the user picked, under $XDG_CONFIG_HOME/nstui/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "nstui"


@dataclass(frozen=True, slots=True)
class ThemeStore:
    """The theme choice as one small JSON file; unreadable or missing means "no choice"."""

    path: Path

    @classmethod
    def default(cls) -> ThemeStore:
        return cls(default_config_dir() / "theme.json")

    def load(self) -> str | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        theme = data.get("theme") if isinstance(data, dict) else None
        return theme if isinstance(theme, str) and theme else None

    def save(self, theme: str) -> None:
        """Write atomically; a read-only home is not worth an error on screen."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"theme": theme}) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass
