"""Damaging a data directory on purpose, the way a bad disk or a stray write would."""

from __future__ import annotations

from pathlib import Path

from storage.interface import Value, ValueType
from storage.values import encode_value

UNKNOWN_TAG = 0x7F
"""A value type tag no version of epaxosdb writes."""


def damage_value_record(data_dir: Path, payload: bytes) -> None:
    """Give every stored copy of ``payload``'s record (a plain string) an unknown type tag.

    The instance log may hold the payload too, inside a SET, but only a
    key-value record starts with this header. LMDB copies pages on write, so
    the file may hold stale copies of the record besides the live one: damage
    them all.
    """
    data_file = data_dir / "data.mdb"
    image = bytearray(data_file.read_bytes())
    record = encode_value(Value(ValueType.STRING, 0, payload), None)
    found = 0
    at = image.find(record)
    while at >= 0:
        image[at] = UNKNOWN_TAG
        found += 1
        at = image.find(record, at + 1)
    assert found, "the record is not in the data file"
    data_file.write_bytes(bytes(image))
