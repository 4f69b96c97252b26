"""Huge page limits: one set of files per page size (``hugetlb.2MB.max``, v1
``hugetlb.2MB.limit_in_bytes``)."""

from __future__ import annotations

import re

_PAGE_RE = re.compile(r"hugetlb\.(\d+[KMG]B)\.(.+)")


def split_hugetlb_file(name: str) -> tuple[str, str] | None:
    """``hugetlb.2MB.max`` -> ("2MB", "max"); None for other names."""
    match = _PAGE_RE.fullmatch(name)
    return None if match is None else (match.group(1), match.group(2))


def page_size_bytes(label: str) -> int:
    """``2MB`` -> 2097152, ``1GB`` -> 1073741824."""
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[label[-2]]
    return int(label[:-2]) * mult
