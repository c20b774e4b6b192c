"""``epaxosdb inspect``: a read-only report on a data directory.

It opens the store read-only and never takes the writer's lock, so it works
on the data dir of a running replica (the key-value figures may then trail
the log by the effects the replica has not flushed yet).

``inspect(check=True)`` reads every key's record as a replica would, so that an operator
told "storage failure" can see which keys are damaged instead of finding
them one failed GET at a time. LMDB keeps no checksums: a damaged page that
still parses is not detected by this or anything else, and one whose page
pointers lead outside the file crashes the process reading it (SIGBUS).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from epaxosdb.commands.functions import audit
from epaxosdb.commands.hashes import HASHES
from epaxosdb.commands.lists import decode_list
from epaxosdb.commands.sets import SETS
from epaxosdb.commands.streams import STREAMS
from epaxosdb.commands.zsets import ZSETS
from storage.interface import KeyValueView, StorageError, ValueType
from storage.lmdb_store import LmdbStore

UNREADABLE_SHOWN = 10
_COLLECTIONS: dict[ValueType, Callable[[bytes], object]] = {
    **{kind.value_type: kind.decode for kind in (HASHES, SETS, ZSETS, STREAMS)},
    ValueType.LIST: decode_list,  # a list's decode reads its header only
}
"""Value types whose payload has a structure of its own, and what reads it."""


def inspect(data_dir: Path, *, check: bool) -> tuple[str, bool]:
    """``(report, healthy)``, from one read-only opening of the store.

    With ``check``, every key's record is read too and the unreadable ones are
    named (then ``healthy`` is false); without it ``healthy`` is always true."""
    store = LmdbStore.open_readonly(data_dir)
    try:
        stats = store.stats()
        recovered = store.load()
        read, unreadable = store.read(_read_every_key) if check else (0, [])
        libraries, broken = audit(store.read(lambda kv: kv.functions()))
    finally:
        store.close()
    by_status = ", ".join(
        f"{status.name.lower()} {count}" for status, count in stats.instances_by_status.items()
    )
    lines = [
        f"data dir:        {data_dir}",
        f"schema version:  {stats.schema_version}",
        f"replica id:      {stats.replica_id}",
        f"cluster id:      {stats.cluster_id.hex() if stats.cluster_id else '-'}",
        f"instances:       {stats.instance_count} ({by_status or 'none'})",
        f"keys:            {stats.key_count} ({stats.expires_count} with an expiry)",
        f"map:             {stats.used_bytes} of {stats.map_size_bytes} bytes used",
    ]
    rows: dict[int, list[int]] = {}
    for rec in recovered.records:
        rows.setdefault(rec.id.replica, []).append(rec.id.index)
    for replica in sorted(rows):
        idx = sorted(rows[replica])
        lines.append(f"row {replica}:           {len(idx)} instances, {idx[0]}..{idx[-1]}")
    for name, value in sorted(recovered.meta.items()):
        lines.append(f"meta {name}: {_printable(value)}")
    names = ", ".join(_printable(name) for name in libraries)
    lines.append(f"functions:       {len(libraries)} libraries" + (f" ({names})" if names else ""))
    if check:
        for library, reason in broken:
            lines.append(f"unloadable function library {_printable(library)}: {reason}")
        lines.append(f"check:           {read} keys read, {len(unreadable)} unreadable")
        for key, reason in unreadable[:UNREADABLE_SHOWN]:
            lines.append(f"unreadable key {_printable(key)}: {reason}")
        if len(unreadable) > UNREADABLE_SHOWN:
            lines.append(f"... and {len(unreadable) - UNREADABLE_SHOWN} more")
    return "\n".join(lines), not unreadable and not (check and broken)


def _printable(value: bytes) -> str:
    """Text metadata as text; binary ids (data directory ids) as hex."""
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return value.hex()
    return text if text.isprintable() else value.hex()


def _read_every_key(kv: KeyValueView) -> tuple[int, list[tuple[bytes, str]]]:
    read = 0
    unreadable: list[tuple[bytes, str]] = []
    for key in kv.iter_keys():
        read += 1
        try:
            value = kv.get(key)
            if value is not None and value.type in _COLLECTIONS:
                # A record that parses can still hold a collection that does not.
                _COLLECTIONS[value.type](value.payload)
        except StorageError as exc:
            unreadable.append((key, str(exc)))
    return read, unreadable
