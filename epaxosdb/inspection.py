"""``epaxosdb inspect``: a read-only report on a data directory (it never takes the lock)."""

from __future__ import annotations

from pathlib import Path

from storage.lmdb_store import LmdbStore


def describe(data_dir: Path) -> str:
    store = LmdbStore.open_readonly(data_dir)
    try:
        stats = store.stats()
        recovered = store.load()
    finally:
        store.close()
    lines = [f"data dir: {data_dir}"]
    for name, value in vars(stats).items() if hasattr(stats, "__dict__") else _fields(stats):
        lines.append(f"{name}: {value}")
    rows: dict[int, list[int]] = {}
    for rec in recovered.records:
        rows.setdefault(rec.id.replica, []).append(rec.id.index)
    for replica in sorted(rows):
        idx = sorted(rows[replica])
        lines.append(f"row {replica}: {len(idx)} instances, highest {idx[-1]}")
    for name, value in sorted(recovered.meta.items()):
        lines.append(f"meta {name}: {value.decode(errors='replace')}")
    return "\n".join(lines)


def _fields(obj: object) -> list[tuple[str, object]]:
    names = getattr(obj, "__slots__", ()) or getattr(obj, "__dataclass_fields__", {})
    return [(n, getattr(obj, n)) for n in names]
