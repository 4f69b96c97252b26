"""Snapshots to JSON and back, exactly: ``snapshot_from_json(snapshot_to_json(s)) == s``.

The format is versioned (``{"format": "nstui-snapshot", "version": 1, "snapshot": {...}}``)
so recorded snapshots (test fixtures, later remote hosts) keep loading. Conversion follows the
dataclasses' own type hints, so a field added with a default to any record is carried without
touching this module, and a file written before that field existed still loads (the field
takes its default). Fields equal to their default are left out to keep files small.

Encodings: a namespace identity (NsId) is the string ``type:dev:ino`` (``net:4:4026531833``);
enums are their value; tuples and frozensets are lists (frozensets sorted); a dict whose keys
are tuples (``Snapshot.cgroups``) is a list of ``[key, value]`` pairs; other dict keys are
strings (ints as decimal text).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

from nstui.kernel.nstypes import NsId, NsType
from nstui.model.snapshot import Snapshot

FORMAT = "nstui-snapshot"
VERSION = 1

_Json = Any
_Conv = Callable[[Any], Any]


class SnapshotFormatError(ValueError):
    """The data is not a snapshot this version of nstui can read."""


def snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as JSON-ready data (dicts, lists, str, int, float, bool, None)."""
    return {"format": FORMAT, "version": VERSION, "snapshot": _encoder(Snapshot)(snapshot)}


def snapshot_from_json(data: dict[str, Any]) -> Snapshot:
    """Rebuild a snapshot written by ``snapshot_to_json``.

    Raises SnapshotFormatError when the data is not a snapshot or has a newer version.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotFormatError(f"not an nstui snapshot (expected format {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise SnapshotFormatError(
            f"snapshot format version {version!r} is not supported (this nstui reads 1..{VERSION})"
        )
    try:
        result = _decoder(Snapshot)(data["snapshot"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotFormatError(f"malformed snapshot: {exc!r}") from exc
    assert isinstance(result, Snapshot)
    return result


def ns_id_to_text(ns_id: NsId) -> str:
    return f"{ns_id.type.value}:{ns_id.dev}:{ns_id.ino}"


@functools.lru_cache(maxsize=65536)
def ns_id_from_text(text: str) -> NsId:
    """Parse ``type:dev:ino``. Cached: equal ids in one file share one object."""
    type_s, dev_s, ino_s = text.split(":")
    return NsId(NsType(type_s), int(dev_s), int(ino_s))


# --- encoding: driven by the dataclasses' type hints, compiled once per type -----------------


def _key(value: Any) -> str:
    if isinstance(value, NsId):
        return ns_id_to_text(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _encode(value: Any) -> _Json:
    """Encode by runtime type (for values whose declared type says little)."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, NsId):
        return ns_id_to_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls: Any = type(value)
        return _encoder(cls)(value)
    if isinstance(value, dict):
        if value and isinstance(next(iter(value)), tuple):
            return [[_encode(k), _encode(v)] for k, v in value.items()]
        return {_key(k): _encode(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(_encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} in a snapshot")


@functools.cache
def _encoder(tp: Any) -> _Conv:
    """A function turning a value of type TP into JSON data."""
    if tp in (int, float, str, bool, type(None)):
        return _identity
    if tp is NsId:
        return ns_id_to_text
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _record_encoder(tp)
        if issubclass(tp, Enum):
            return _enum_value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            inner = _encoder(non_none[0])
            if inner is _identity:
                return _identity
            return lambda v: None if v is None else inner(v)
        return _encode
    if origin in (tuple, list):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            items = tuple(_encoder(a) for a in args)
            return lambda v: [conv(x) for conv, x in zip(items, v, strict=True)]
        item = _encoder(args[0]) if args else _encode
        if item is _identity:
            return list
        return lambda v: [item(x) for x in v]
    if origin is frozenset:
        item = _encoder(args[0])
        return lambda v: sorted(item(x) for x in v)
    if origin is dict:
        key_tp, val_tp = args
        val = _encoder(val_tp)
        if typing.get_origin(key_tp) is tuple:
            pair_key = _encoder(key_tp)
            return lambda v: [[pair_key(k), val(x)] for k, x in v.items()]
        key = _key_encoder(key_tp)
        return lambda v: {key(k): val(x) for k, x in v.items()}
    return _encode


def _key_encoder(tp: Any) -> _Conv:
    if tp is str:
        return _identity
    if tp is NsId:
        return ns_id_to_text
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _enum_value
    return str


def _enum_value(value: Any) -> Any:
    return value.value


def _record_encoder(cls: type) -> _Conv:
    hints = typing.get_type_hints(cls)
    fields = tuple((name, default, _encoder(hints[name])) for name, default in _defaults(cls))

    def conv(record: Any) -> dict[str, _Json]:
        out: dict[str, _Json] = {}
        for name, default, enc in fields:
            value = getattr(record, name)
            if default is not _NO_DEFAULT and value == default:
                continue
            out[name] = enc(value)
        return out

    return conv


_NO_DEFAULT: Any = object()


@functools.cache
def _defaults(cls: Any) -> tuple[tuple[str, Any], ...]:
    """(field name, default or _NO_DEFAULT) of each field of a dataclass."""
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _NO_DEFAULT
        out.append((f.name, default))
    return tuple(out)


# --- decoding: driven by the dataclasses' type hints -----------------------------------------


@functools.cache
def _decoder(tp: Any) -> _Conv:
    """A function turning JSON data into a value of type TP."""
    if tp is NsId:
        return ns_id_from_text
    if tp is Any:
        return _identity
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _record_decoder(tp)
        if issubclass(tp, Enum):
            return tp
        if tp is float:
            return float
        if tp in (int, str, bool):
            return _checked(tp)
        if tp is type(None):
            return _none
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return _union_decoder(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda data: tuple(item(v) for v in data)
        items = tuple(_decoder(a) for a in args)
        return lambda data: tuple(conv(v) for conv, v in zip(items, data, strict=True))
    if origin is frozenset:
        item = _decoder(args[0])
        return lambda data: frozenset(item(v) for v in data)
    if origin is list:
        item = _decoder(args[0])
        return lambda data: [item(v) for v in data]
    if origin is dict:
        key_tp, val_tp = args
        key, val = _decoder(key_tp), _decoder(val_tp)
        if typing.get_origin(key_tp) is tuple:
            return lambda data: {key(k): val(v) for k, v in data}
        if key_tp is int:
            key = int
        return lambda data: {key(k): val(v) for k, v in data.items()}
    raise TypeError(f"snapshot field type {tp!r} has no JSON decoder")


def _identity(data: Any) -> Any:
    return data


def _none(data: Any) -> None:
    if data is not None:
        raise TypeError(f"expected null, got {data!r}")


def _checked(tp: type) -> _Conv:
    def conv(data: Any) -> Any:
        # bool is an int subclass: keep true/false out of int fields and vice versa.
        if type(data) is not tp:
            raise TypeError(f"expected {tp.__name__}, got {data!r}")
        return data

    return conv


def _union_decoder(args: tuple[Any, ...]) -> _Conv:
    non_none = [a for a in args if a is not type(None)]
    if len(non_none) == 1 and len(args) == 2:
        inner = _decoder(non_none[0])
        return lambda data: None if data is None else inner(data)
    convs = [_decoder(a) for a in args]

    def conv(data: Any) -> Any:
        for c in convs:
            try:
                return c(data)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"no type of {args!r} fits {data!r}")

    return conv


def _record_decoder(cls: type) -> _Conv:
    hints = typing.get_type_hints(cls)
    fields = tuple((name, _decoder(hints[name])) for name, _ in _defaults(cls))

    def conv(data: dict[str, Any]) -> Any:
        kwargs = {name: dec(data[name]) for name, dec in fields if name in data}
        return cls(**kwargs)

    return conv
