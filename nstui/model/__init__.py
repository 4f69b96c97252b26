"""Immutable host snapshots, grouping helpers and diffs. No textual import here."""
