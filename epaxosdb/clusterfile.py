"""The cluster file: who the replicas are, where they listen, and shared settings.

```toml
[cluster]                     # optional; every setting has a default
secret = "change me"          # peers prove they know it before any message is accepted
tick_ms = 10

[[replica]]
id = 1
client = "127.0.0.1:6379"     # RESP clients (optional when tls_client is given)
peer = "127.0.0.1:7379"       # replica-to-replica
data_dir = "data/1"           # optional; relative to this file
tls_client = "127.0.0.1:6389" # optional: RESP clients over TLS

[[user]]                      # optional: ACL users besides ``default``
name = "reader"
rules = "on >s3cret ~* +@read"  # ACL SETUSER rules, as in a Redis ACL file
```

TLS for RESP clients takes Redis's directives, spelled in this file's snake_case; each
may sit in ``[cluster]`` (every replica) or in a ``[[replica]]`` table (that one only,
overriding ``[cluster]``). Paths are relative to this file, like ``data_dir``:

* ``tls_client`` (replica only; Redis's ``tls-port`` and ``bind``): where TLS clients
  connect. Without ``client`` it is the only client port (Redis's ``port 0``).
* ``tls_cert_file`` (``tls-cert-file``): the replica's certificate, PEM, may hold the chain.
* ``tls_key_file`` (``tls-key-file``): its private key, PEM, unencrypted.
* ``tls_ca_cert_file`` (``tls-ca-cert-file``): the CA certificates client certificates
  are checked against.
* ``tls_auth_clients`` (``tls-auth-clients``): ``"yes"`` (the default, as in Redis:
  clients must present a certificate the CA signed), ``"optional"`` (checked when
  presented) or ``"no"``; TOML's ``true``/``false`` mean yes/no.

``[cluster] tls_handshake_timeout_ms`` (default 10,000; Redis has no such directive)
bounds how long a TLS client may take to finish its handshake. The files themselves
are read when the replica starts (``epaxosdb.certificates``), not here.

``[cluster] tls_peers = true`` (Redis's ``tls-replication yes`` and ``tls-cluster yes``;
default false, plain TCP as before) makes every replica-to-replica connection mutual
TLS with the same files: each replica presents ``tls_cert_file`` and checks its peer's
against ``tls_ca_cert_file`` (``runtime.peers``). It is a cluster-wide setting, not a
replica's: a replica without it could not talk to one with it. So every replica needs
a certificate, a key and a CA, refused here if one lacks any; ``tls_auth_clients``
concerns clients only (a peer always presents a certificate).

The cluster id — checked in every peer handshake and stored in every data
directory — is derived from the replica ids and peer addresses (or given as
``[cluster] id``), so a replica never talks to, or loads the log of, another
cluster by mistake.

Every key is checked: an unknown table or key (a typo such as ``dat_dir``) is
refused rather than ignored, and each ``[cluster]`` setting must be an integer
(not a boolean) within ``SETTING_RANGES``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeGuard

from epaxosdb import users

DEFAULT_TICK_MS = 10

CORE_SETTINGS = (
    "batch_max", "inflight_max", "fast_wait_ticks", "retransmit_ticks", "learn_ticks",
    "recovery_ticks", "recovery_jitter_ticks", "recoveries_max", "sync_interval_ticks",
    "sync_batch_max", "batch_bytes_max", "sync_bytes_max", "leave_behind_instances",
    "leave_behind_bytes",
)
"""``[cluster]`` keys passed to every replica's core (``ReplicaConfig`` fields, in ticks)."""
RUNTIME_SETTINGS = ("command_timeout_ms", "leave_behind_ms", "tls_handshake_timeout_ms")
_TICKS_MAX = 1_000_000
"""About 3 hours at the default tick, 11 days at the longest: longer is a typo."""
SETTING_RANGES: dict[str, tuple[int, int]] = {
    "batch_max": (1, 1_000_000),
    "inflight_max": (1, 100_000),
    "fast_wait_ticks": (0, _TICKS_MAX),
    "retransmit_ticks": (1, _TICKS_MAX),
    "learn_ticks": (0, _TICKS_MAX),
    "recovery_ticks": (1, _TICKS_MAX),
    "recovery_jitter_ticks": (0, _TICKS_MAX),
    "recoveries_max": (1, 100_000),
    "sync_interval_ticks": (1, _TICKS_MAX),
    "sync_batch_max": (1, 1_000_000),
    "batch_bytes_max": (1, 1 << 30),
    "sync_bytes_max": (1, 1 << 30),
    "leave_behind_instances": (0, 1_000_000_000),
    "leave_behind_bytes": (0, 1 << 50),
    "command_timeout_ms": (1, 86_400_000),
    "leave_behind_ms": (0, 30 * 86_400_000),
    "tls_handshake_timeout_ms": (1, 600_000),
}
"""The values each ``[cluster]`` setting accepts (inclusive): what the core needs at least
(a zero batch or retransmit interval would never propose or resend), and bounds well past
any sensible setting that keep a typo from reaching the replicas (byte bounds stay within
the 1 GiB peer frame)."""
TLS_KEYS = ("tls_cert_file", "tls_key_file", "tls_ca_cert_file", "tls_auth_clients")
"""Keys of ``[cluster]`` that a ``[[replica]]`` table may override (see the table above)."""
TLS_AUTH_CLIENTS = ("yes", "no", "optional")
REPLICA_KEYS = ("id", "client", "peer", "data_dir", "tls_client", *TLS_KEYS)
CLUSTER_KEYS = ("secret", "tick_ms", "id", "requirepass", "tls_peers", *TLS_KEYS)
DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000
"""A client that connects to the TLS port and sends nothing (or too little) is closed
after this: a handshake in progress holds a socket and a task."""
TABLES = ("cluster", "replica", "user")
USER_KEYS = ("name", "rules")
DEFAULT_LEAVE_BEHIND_MS = 60_000
DEFAULT_LEAVE_BEHIND_INSTANCES = 10_000
"""A replica silent for a minute, once a peer holds 10,000 instances, is left behind
and rebuilds from a snapshot when it returns (``core.laggards``): short outages, and
long ones under a light load, catch up from the log; a long one under a heavy load
costs its peers at most about a minute of log in memory and on disk (an instance
batches many commands, so a count alone would not bound that). ``leave_behind_ms =
0`` turns it off."""
DEFAULT_LEAVE_BEHIND_BYTES = 256 << 20
"""...or once the instances a peer holds carry 256 MiB of command arguments: with large
values 10,000 instances can be tens of gigabytes, all of it in memory."""


class ClusterFileError(ValueError):
    """The cluster file is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: object, what: str) -> Address:
        if not isinstance(text, str) or ":" not in text:
            raise ClusterFileError(f"{what} must be \"host:port\", not {text!r}")
        host, _, port = text.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            raise ClusterFileError(f"{what} has a bad port: {text!r}") from None
        if not 0 < number < 65536 or not host:
            raise ClusterFileError(f"{what} has a bad host or port: {text!r}")
        return cls(host.strip("[]"), number)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """One replica's TLS files and client-certificate policy (Redis's ``tls-*``), with
    paths resolved; ``[cluster]`` values overridden by the replica's own."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_cert_file: Path | None = None
    auth_clients: str = "yes"
    """``tls-auth-clients``: ``yes``, ``optional`` or ``no``."""


@dataclass(frozen=True, slots=True)
class ReplicaEntry:
    id: int
    client: Address | None
    """Plain-text RESP clients; ``None`` when the replica serves TLS clients only."""
    peer: Address
    data_dir: Path | None
    tls_client: Address | None = None
    tls: TlsSettings = TlsSettings()


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    replicas: tuple[ReplicaEntry, ...]
    cluster_id: bytes
    secret: bytes = b""
    tick_ms: int = DEFAULT_TICK_MS
    requirepass: str = ""
    settings: dict[str, object] = field(default_factory=dict)
    users: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()
    """``[[user]]`` tables: each user's name and ``ACL SETUSER`` rules (``runtime.acl``)."""
    path: Path | None = None
    """The cluster file this came from (``load_cluster``); INFO reports it as ``config_file``."""
    tls_peers: bool = False
    """Mutual TLS between replicas (``[cluster] tls_peers``); every replica's ``tls`` then
    holds a certificate, a key and a CA."""

    def core_settings(self) -> dict[str, int]:
        settings = {
            "leave_behind_instances": DEFAULT_LEAVE_BEHIND_INSTANCES,
            "leave_behind_bytes": DEFAULT_LEAVE_BEHIND_BYTES,
        }
        for name, value in self.settings.items():
            if name in CORE_SETTINGS:
                assert isinstance(value, int)
                settings[name] = value
        leave_ms = self.settings.get("leave_behind_ms", DEFAULT_LEAVE_BEHIND_MS)
        assert isinstance(leave_ms, int)
        settings["leave_behind_ticks"] = -(-leave_ms // self.tick_ms)  # rounded up
        return settings

    @property
    def command_timeout_s(self) -> float:
        value = self.settings.get("command_timeout_ms", 10_000)
        assert isinstance(value, int)
        return value / 1000

    @property
    def tls_handshake_timeout_s(self) -> float:
        value = self.settings.get("tls_handshake_timeout_ms", DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS)
        assert isinstance(value, int)
        return value / 1000

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(r.id for r in self.replicas)

    def replica(self, replica_id: int) -> ReplicaEntry:
        for r in self.replicas:
            if r.id == replica_id:
                return r
        raise ClusterFileError(f"replica {replica_id} is not in the cluster file (ids: {self.ids})")


def derive_cluster_id(replicas: tuple[ReplicaEntry, ...]) -> bytes:
    text = ";".join(f"{r.id}@{r.peer}" for r in sorted(replicas, key=lambda r: r.id))
    return hashlib.sha256(text.encode()).digest()[:16]


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true is not 1


def parse_cluster(data: dict[str, object], base: Path | None = None) -> ClusterConfig:
    unknown = [name for name in data if name not in TABLES]
    if unknown:
        raise ClusterFileError(
            f"unknown table or key {unknown[0]!r} in the cluster file "
            "(it holds [cluster], [[replica]] and [[user]] tables)"
        )
    cluster = data.get("cluster", {})
    if not isinstance(cluster, dict):
        raise ClusterFileError("[cluster] must be a table")
    raw = data.get("replica")
    if not isinstance(raw, list) or not raw:
        raise ClusterFileError("the cluster file needs at least one [[replica]] table")
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ClusterFileError(f"[[replica]] #{i + 1} is not a table")
        rid = item.get("id")
        if not _integer(rid) or not 0 < rid < 256:
            raise ClusterFileError(f"[[replica]] #{i + 1}: id must be an integer 1..255")
        extra_keys = [k for k in item if k not in REPLICA_KEYS]
        if extra_keys:
            raise ClusterFileError(
                f"replica {rid}: unknown key {extra_keys[0]!r} (known: {', '.join(REPLICA_KEYS)})"
            )
        data_dir = item.get("data_dir")
        path: Path | None = None
        if data_dir is not None:
            if not isinstance(data_dir, str):
                raise ClusterFileError(f"replica {rid}: data_dir must be a string")
            if not data_dir.strip():
                raise ClusterFileError(
                    f"replica {rid}: data_dir is empty (leave it out, or name a directory)"
                )
            path = Path(data_dir)
            if base is not None and not path.is_absolute():
                path = base / path
        entries.append(
            ReplicaEntry(
                rid,
                _optional_address(item, "client", rid),
                Address.parse(item.get("peer"), f"replica {rid} peer"),
                path,
                _optional_address(item, "tls_client", rid),
                _tls_settings(cluster, item, rid, base),
            )
        )
        if entries[-1].client is None and entries[-1].tls_client is None:
            raise ClusterFileError(f"replica {rid} needs a client address, a tls_client, or both")
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ClusterFileError(f"replica ids repeat: {ids}")
    if len(entries) not in (1, 3, 5, 7):
        raise ClusterFileError(f"a cluster has 1, 3, 5 or 7 replicas, not {len(entries)}")
    addresses = [str(a) for e in entries for a in (e.client, e.peer, e.tls_client) if a]
    if len(set(addresses)) != len(addresses):
        raise ClusterFileError("two listeners in the cluster file share an address")
    replicas = tuple(sorted(entries, key=lambda e: e.id))
    secret = cluster.get("secret", "")
    tick_ms = cluster.get("tick_ms", DEFAULT_TICK_MS)
    requirepass = cluster.get("requirepass", "")
    if not isinstance(secret, str) or not isinstance(requirepass, str):
        raise ClusterFileError("[cluster] secret and requirepass are strings")
    if not _integer(tick_ms) or not 1 <= tick_ms <= 1000:
        raise ClusterFileError("[cluster] tick_ms is an integer between 1 and 1000")
    given_id = cluster.get("id")
    if given_id is not None and not isinstance(given_id, str):
        raise ClusterFileError("[cluster] id is a string")
    cluster_id = (
        hashlib.sha256(given_id.encode()).digest()[:16] if given_id else derive_cluster_id(replicas)
    )
    extra = {k: v for k, v in cluster.items() if k not in CLUSTER_KEYS}
    for name, value in extra.items():
        if name not in SETTING_RANGES:
            allowed = ", ".join(CLUSTER_KEYS + CORE_SETTINGS + RUNTIME_SETTINGS)
            raise ClusterFileError(f"unknown [cluster] setting {name!r} (known: {allowed})")
        low, high = SETTING_RANGES[name]
        if not _integer(value) or not low <= value <= high:
            raise ClusterFileError(f"[cluster] {name} must be an integer from {low} to {high}")
    config = ClusterConfig(replicas, cluster_id, secret.encode(), tick_ms, requirepass, extra)
    return replace(
        config, users=_parse_users(data.get("user", [])), tls_peers=_tls_peers(cluster, replicas)
    )


def _tls_peers(cluster: dict[str, object], replicas: tuple[ReplicaEntry, ...]) -> bool:
    """``[cluster] tls_peers``: a boolean (or Redis's ``"yes"``/``"no"``); when on, every
    replica must have the files mutual TLS needs — refused here, naming what is missing
    where, rather than at the first connection of a replica that started anyway."""
    raw = cluster.get("tls_peers", False)
    if isinstance(raw, str) and raw in ("yes", "no"):
        raw = raw == "yes"
    if not isinstance(raw, bool):
        raise ClusterFileError(f'[cluster] tls_peers is true or false ("yes" or "no"), not {raw!r}')
    if not raw:
        return False
    for entry in replicas:
        files = (
            ("tls_cert_file", entry.tls.cert_file),
            ("tls_key_file", entry.tls.key_file),
            ("tls_ca_cert_file", entry.tls.ca_cert_file),
        )
        missing = [name for name, value in files if value is None]
        if missing:
            raise ClusterFileError(
                f"[cluster] tls_peers is on but replica {entry.id} has no "
                f"{', '.join(missing)} (in [cluster] or its [[replica]] table): each replica "
                "presents its certificate to its peers and checks theirs against the CA"
            )
    return True


def _parse_users(raw: object) -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    """``[[user]]`` tables, each rule checked now: a typo in a rule stops the start with
    the user and the rule named, rather than leaving a user that cannot log in."""
    if not isinstance(raw, list):
        raise ClusterFileError("[[user]] must be an array of tables")
    found: dict[bytes, tuple[bytes, ...]] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ClusterFileError(f"[[user]] #{i + 1} is not a table")
        extra_keys = [k for k in item if k not in USER_KEYS]
        if extra_keys:
            raise ClusterFileError(
                f"[[user]] #{i + 1}: unknown key {extra_keys[0]!r} (known: {', '.join(USER_KEYS)})"
            )
        name, rules = item.get("name"), item.get("rules", "")
        if not isinstance(name, str) or not name or not users.valid_user_name(name.encode()):
            raise ClusterFileError(
                f"[[user]] #{i + 1}: name is a string without spaces or NUL characters"
            )
        if not isinstance(rules, str):
            raise ClusterFileError(f"user {name!r}: rules is a string of ACL rules")
        key = name.encode()
        if key in found:
            raise ClusterFileError(f"user {name!r} appears twice")
        words = tuple(word.encode() for word in rules.split())
        try:
            (users.default_user("") if key == users.DEFAULT else users.new_user(key)).apply(words)
        except users.RuleError as exc:
            raise ClusterFileError(
                f"user {name!r}: rule {exc.rule.decode(errors='replace')!r}: {exc.reason}"
            ) from None
        found[key] = words
    return tuple(found.items())


def _optional_address(item: dict[str, object], key: str, rid: int) -> Address | None:
    value = item.get(key)
    return None if value is None else Address.parse(value, f"replica {rid} {key}")


def _tls_settings(
    cluster: dict[str, object], item: dict[str, object], rid: int, base: Path | None
) -> TlsSettings:
    """The replica's TLS settings: its own keys over ``[cluster]``'s. A replica with a
    ``tls_client`` must have a certificate and key, and a CA unless it asks no client
    for a certificate: refused here, before anything starts."""

    def value(key: str) -> tuple[object, str]:
        if key in item:
            return item[key], f"replica {rid} {key}"
        return cluster.get(key), f"[cluster] {key}"

    def path(key: str) -> Path | None:
        raw, where = value(key)
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            raise ClusterFileError(f"{where} must name a file, not {raw!r}")
        resolved = Path(raw)
        return base / resolved if base is not None and not resolved.is_absolute() else resolved

    auth, where = value("tls_auth_clients")
    if auth is None:
        auth = "yes"
    elif isinstance(auth, bool):  # TOML's true/false for Redis's yes/no
        auth = "yes" if auth else "no"
    if auth not in TLS_AUTH_CLIENTS:
        raise ClusterFileError(f'{where} is "yes", "no" or "optional", not {auth!r}')
    assert isinstance(auth, str)
    tls = TlsSettings(path("tls_cert_file"), path("tls_key_file"), path("tls_ca_cert_file"), auth)
    if item.get("tls_client") is not None:
        missing = [k for k in ("tls_cert_file", "tls_key_file") if value(k)[0] is None]
        if tls.auth_clients != "no" and tls.ca_cert_file is None:
            missing.append("tls_ca_cert_file")
        if missing:
            hint = (
                "; clients' certificates are checked against tls_ca_cert_file unless "
                'tls_auth_clients = "no"' if "tls_ca_cert_file" in missing else ""
            )
            raise ClusterFileError(
                f"replica {rid} has a tls_client but no {', '.join(missing)} (in [cluster] or "
                f"its [[replica]] table){hint}"
            )
    return tls


def load_cluster(path: Path) -> ClusterConfig:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ClusterFileError(f"cannot read cluster file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClusterFileError(f"cluster file {path} is not valid TOML: {exc}") from None
    resolved = path.resolve()
    return replace(parse_cluster(data, resolved.parent), path=resolved)


def render_cluster(
    replicas: list[tuple[int, str, str, str | None]],
    *,
    tick_ms: int = DEFAULT_TICK_MS,
    tls_clients: Mapping[int, str] | None = None,
    settings: Mapping[str, str | int | bool] | None = None,
) -> str:
    """A cluster file for ``(id, client, peer, data_dir)`` rows (used by ``epaxosdb local``),
    with a ``tls_client`` for the replicas in ``tls_clients`` and further ``[cluster]``
    ``settings`` (the TLS files, say)."""
    lines = ["[cluster]", f"tick_ms = {tick_ms}"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in (settings or {}).items()]
    lines.append("")
    for rid, client, peer, data_dir in replicas:
        lines += ["[[replica]]", f"id = {rid}", f'client = "{client}"', f'peer = "{peer}"']
        if data_dir is not None:
            lines.append(f'data_dir = "{data_dir}"')
        if tls_clients and rid in tls_clients:
            lines.append(f'tls_client = "{tls_clients[rid]}"')
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: str | int | bool) -> str:
    """A boolean, an integer, or a TOML basic string (JSON's escapes are TOML's: a path may
    hold any character)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)
