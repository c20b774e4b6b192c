"""The ``epaxosdb`` command line: serve, local, simulate, inspect, bench.

Exit codes: 0 clean shutdown; 1 a runtime failure (storage error, safety
tripwire); 2 bad usage or a refused start (bad cluster file or TLS files, data dir locked
by another process, data dir of another replica or cluster, a data dir path
that cannot be a directory or cannot be written, a data dir whose data file
is missing or empty, a port in use).
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import shutil
import sys
import time
from pathlib import Path

import click

EXIT_FAILURE = 1
EXIT_REFUSED = 2


class _Formatter(logging.Formatter):
    """One line per event: time, level, replica, logger, message."""

    def __init__(self, replica: str) -> None:
        super().__init__()
        self._replica = replica

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = (
            f"{ts}.{int(record.msecs):03d}Z {record.levelname.lower():<7} "
            f"{self._replica}{record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str, replica: int | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(f"replica={replica} " if replica is not None else ""))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _free_space(directory: Path) -> str:
    """How full the data dir's filesystem is: LMDB often reports a full disk as an I/O
    error, so the storage failure line says it plainly."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return "free space unknown"
    if usage.free < 1024 * 1024:
        return f"its disk is FULL: {usage.free} bytes free"
    return f"{usage.free // (1024 * 1024)} MB free on its disk"


def _refuse_optimized() -> None:
    if sys.flags.optimize:
        raise click.ClickException(
            "epaxosdb refuses to run with python -O: its assertions guard safety invariants"
        )


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: the package's version and the build digest replicas compare."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    from epaxosdb.build import build_name

    click.echo(f"epaxosdb {version('epaxosdb')}, build {build_name()}")
    ctx.exit()


@click.group()
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
    help="Show the version and the build (replicas must all run the same) and exit.",
)  # fmt: skip
def main() -> None:
    """A replicated, linearizable key-value database that speaks the Redis protocol."""
    _refuse_optimized()
    # A fault in C code — a damaged LMDB page read through the map (SIGBUS, SIGSEGV) —
    # kills the process; this leaves at least the stacks of every thread on stderr
    # (when stderr is a file: not under a test runner that captures it).
    with contextlib.suppress(ValueError, OSError):
        faulthandler.enable()


def _data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """``--data-dir ""`` would be the current directory (``Path("")`` is ``.``): refused."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("the data dir path is empty")
    return Path(value)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="The cluster file (TOML).")
@click.option("--id", "replica_id", required=True, type=int, help="This replica's id.")
@click.option("--data-dir", type=click.Path(), default=None, callback=_data_dir,
              help="Overrides the replica's data_dir from the cluster file.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_path: Path, replica_id: int, data_dir: Path | None, log_level: str) -> None:
    """Run replica ID of the cluster described in the cluster file."""
    from epaxosdb.certificates import CertificateError, peer_contexts, server_context
    from epaxosdb.clusterfile import ClusterFileError, load_cluster
    from epaxosdb.core.replica import SafetyViolation
    from epaxosdb.runtime.allocator import tune_heap
    from epaxosdb.runtime.listeners import ListenError
    from epaxosdb.runtime.serve import open_replica, run_process
    from storage.interface import (
        ClusterMismatch,
        DataDirLocked,
        DataDirRefused,
        SchemaMismatch,
        StorageError,
    )

    setup_logging(log_level, replica_id)
    log = logging.getLogger("epaxosdb")
    tune_heap()
    try:
        cluster = load_cluster(config_path)
        entry = cluster.replica(replica_id)
    except ClusterFileError as exc:
        log.error("%s", exc)
        sys.exit(EXIT_REFUSED)
    tls_context = None
    if entry.tls_client is not None:
        try:  # before the data dir: a bad certificate refuses the start, not the first client
            tls_context = server_context(entry.tls)
        except CertificateError as exc:
            log.error("cannot serve TLS clients: %s (see %s)", exc, config_path)
            sys.exit(EXIT_REFUSED)
    peer_tls = None
    if cluster.tls_peers:
        try:  # likewise: refused now, not at the first peer connection
            peer_tls = peer_contexts(entry.tls)
        except CertificateError as exc:
            log.error("cannot speak TLS to peers (tls_peers): %s (see %s)", exc, config_path)
            sys.exit(EXIT_REFUSED)
    directory = data_dir or entry.data_dir
    if directory is None:
        log.error("replica %d has no data_dir in %s; pass --data-dir", replica_id, config_path)
        sys.exit(EXIT_REFUSED)
    try:
        opened = open_replica(cluster, replica_id, directory, **cluster.core_settings())
    except ClusterMismatch as exc:
        log.error(
            "%s: the cluster id is derived from the cluster file (its replica ids and peer "
            "addresses, unless [cluster] id names it), so changing any of them, even moving "
            "a port, makes another cluster; start it with the cluster file this data dir "
            "was created with, or on an empty data dir", exc,
        )  # fmt: skip
        sys.exit(EXIT_REFUSED)
    except (DataDirLocked, SchemaMismatch, DataDirRefused) as exc:
        log.error("%s", exc)
        sys.exit(EXIT_REFUSED)
    except (StorageError, ValueError) as exc:
        log.error("cannot open data dir %s: %s", directory, exc)
        sys.exit(EXIT_FAILURE)
    code = 0
    try:
        run_process(opened, tls_context, peer_tls)
        log.info("replica %d stopped cleanly", replica_id)
    except ListenError as exc:
        log.error("cannot listen %s", exc)
        code = EXIT_REFUSED
    except SafetyViolation as exc:
        log.critical("safety tripwire: %s", exc)
        code = EXIT_FAILURE
    except StorageError as exc:
        log.critical(
            "storage failure, stopping: %s (%s; the data dir holds every transaction that "
            "committed; check the disk for space and errors, and the data with "
            "'epaxosdb inspect --check --data-dir %s', then start the replica again)",
            exc,
            _free_space(directory),
            directory,
        )
        code = EXIT_FAILURE
    finally:
        opened.store.close()
    sys.exit(code)


@main.command()
@click.option("--replicas", default=3, show_default=True, type=click.Choice(["1", "3", "5", "7"]),
              help="How many replicas to run.")
@click.option("--port", default=6379, show_default=True, type=int,
              help="Client port of replica 1; replica i listens on PORT+i-1, peers on +1000.")
@click.option("--data-dir", default="epaxosdb-data", show_default=True,
              type=click.Path(), callback=_data_dir,
              help="Where replica i keeps its data (DIR/i) and the cluster file.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--tls-cert-file", type=click.Path(path_type=Path), default=None,
              help="Also serve TLS clients (replica i on PORT+10+i-1) with this certificate.")
@click.option("--tls-key-file", type=click.Path(path_type=Path), default=None,
              help="The certificate's private key (with --tls-cert-file).")
@click.option("--tls-ca-cert-file", type=click.Path(path_type=Path), default=None,
              help="The CA that client certificates are checked against.")
@click.option("--tls-auth-clients", default="yes", show_default=True,
              type=click.Choice(["yes", "no", "optional"]),
              help="Whether TLS clients must present a certificate (Redis's tls-auth-clients).")
@click.option("--tls-peers", is_flag=True,
              help="Replicas also talk to each other over mutual TLS with these files (needs "
                   "--tls-ca-cert-file).")
def local(
    replicas: str,
    port: int,
    data_dir: Path | None,
    log_level: str,
    tls_cert_file: Path | None,
    tls_key_file: Path | None,
    tls_ca_cert_file: Path | None,
    tls_auth_clients: str,
    tls_peers: bool,
) -> None:
    """Run a whole cluster on this machine, one process per replica (Ctrl-C stops all)."""
    assert data_dir is not None  # it has a default
    from epaxosdb.local import LocalRefused, LocalTls, run_local

    tls = None
    if tls_peers and (tls_cert_file is None or tls_ca_cert_file is None):
        raise click.UsageError(
            "--tls-peers needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file"
        )
    if tls_cert_file or tls_key_file or tls_ca_cert_file:
        if tls_cert_file is None or tls_key_file is None:
            raise click.UsageError("TLS needs both --tls-cert-file and --tls-key-file")
        if tls_ca_cert_file is None and tls_auth_clients != "no":
            raise click.UsageError(
                "--tls-ca-cert-file is needed to check client certificates (or pass "
                "--tls-auth-clients no)"
            )
        tls = LocalTls(
            tls_cert_file.resolve(),
            tls_key_file.resolve(),
            tls_ca_cert_file.resolve() if tls_ca_cert_file else None,
            tls_auth_clients,
            tls_peers,
        )
    setup_logging(log_level)
    try:
        code = run_local(int(replicas), port, data_dir, log_level, tls)
    except LocalRefused as exc:
        logging.getLogger("epaxosdb.local").error("%s", exc)
        sys.exit(EXIT_REFUSED)
    sys.exit(code)


def _cluster_sizes(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    """``--replicas 3,5``: sizes a cluster may have (1, 3, 5 or 7)."""
    try:
        sizes = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of sizes") from None
    if not sizes or any(n not in (1, 3, 5, 7) for n in sizes):
        raise click.BadParameter(f"{value!r}: a cluster has 1, 3, 5 or 7 replicas")
    return sizes


@main.command()
@click.option("--seed", type=int, default=None, help="Run (replay) exactly this seed.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run this many seeds, from --first (default 100).")
@click.option("--first", type=int, default=0, show_default=True, help="The first of --seeds.")
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Simulated steps per run.")
@click.option("--replicas", "sizes", default="3,5", show_default=True, callback=_cluster_sizes,
              help="Comma-separated cluster sizes to run each seed with (1, 3, 5, 7).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@click.option("--verbose", is_flag=True, help="Print every run, not only failures.")
@click.option("--expiring-keys", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also send unchecked traffic on this many keys with TTLs of a few ticks "
                   "(replicas must still end equal). 0 replays seeds exactly as before.")
@click.option("--list-keys", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also send unchecked list commands on this many keys (replicas must "
                   "still end equal). 0 replays seeds exactly as before.")
@click.option("--collection-keys", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also send unchecked hash, set and sorted set commands on this many keys "
                   "(replicas must still end equal). 0 replays seeds exactly as before.")
@click.option("--function-keys", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also load, replace and delete a function library and FCALL it on this many "
                   "keys (replicas must still end equal). 0 replays seeds exactly as before.")
def simulate(
    seed: int | None, seeds: int | None, first: int, steps: int, sizes: list[int],
    jobs: int, verbose: bool, expiring_keys: int, list_keys: int, collection_keys: int,
    function_keys: int,
) -> None:
    """Deterministic simulation of a cluster under faults; prints a replay line on failure."""
    from epaxosdb.sim.batch import run_many

    if seed is not None:
        if seeds is not None:
            raise click.UsageError("--seed replays one seed; --seeds runs several from --first")
        seed_list = [seed]
    else:
        seed_list = list(range(first, first + (seeds if seeds is not None else 100)))
    failures = run_many(
        seed_list, sizes, steps, jobs=jobs, verbose=verbose, echo=click.echo,
        expiring_keys=expiring_keys, list_keys=list_keys, collection_keys=collection_keys,
        function_keys=function_keys,
    )
    sys.exit(EXIT_FAILURE if failures else 0)


@main.command()
@click.option("--data-dir", required=True, type=click.Path(path_type=Path, exists=True),
              help="A replica's data directory (it may be running).")
@click.option("--check", is_flag=True,
              help="Also read every key's record; exit 1 if any is unreadable.")
def inspect(data_dir: Path, check: bool) -> None:
    """Read-only view of a data dir: instances per status, watermarks, keys, schema."""
    from epaxosdb import inspection
    from storage.interface import StorageError

    try:
        report, healthy = inspection.inspect(data_dir, check=check)
        click.echo(report)
        if not healthy:
            sys.exit(EXIT_FAILURE)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("export")
@click.option("--data-dir", required=True, type=click.Path(path_type=Path, exists=True),
              help="A replica's data directory (it may be running).")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The RDB file to write (redis-server loads it as its own).")
def export_command(data_dir: Path, out: Path) -> None:
    """Write a replica's keys to an RDB file: a backup, or a way to Redis.

    The file holds what the replica had written into its data file when the
    export began; send it SAVE first for everything it had acknowledged."""
    from epaxosdb import backup
    from storage.interface import StorageError

    try:
        keys, expiring, libraries = backup.export(data_dir, out, backup.now_ms())
    except (StorageError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    shown = ""
    if libraries:
        shown = f" and {libraries} function librar{'y' if libraries == 1 else 'ies'}"
    click.echo(f"{keys} keys ({expiring} with an expiry){shown} written to {out}")


@main.command("import")
@click.option("--in", "source", required=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="An RDB file: one epaxosdb export wrote, or one Redis saved.")
@click.option("--host", default="127.0.0.1", show_default=True, help="A replica's address.")
@click.option("--port", required=True, type=click.IntRange(1, 65535),
              help="That replica's client port.")
@click.option("--password", envvar="EPAXOSDB_PASSWORD", default=None,
              help="AUTH password (or EPAXOSDB_PASSWORD).")
@click.option("--replace", is_flag=True, help="Overwrite keys that exist (else left, reported).")
def import_command(
    source: Path, host: str, port: int, password: str | None, replace: bool
) -> None:
    """Send every function library and key of an RDB file to a running cluster
    (FUNCTION LOAD and RESTORE, through consensus)."""
    from epaxosdb import backup

    try:
        report = backup.import_file(
            source, host, port, password=password, replace=replace, now_ms=backup.now_ms()
        )
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    if report.libraries or report.libraries_failed:
        click.echo(
            f"{report.libraries} function libraries loaded, "
            f"{len(report.libraries_failed)} refused"
        )
        for first_line, reason in report.libraries_failed[: backup.FAILURES_SHOWN]:
            click.echo(f"  {first_line!r}: {reason}", err=True)
    click.echo(f"{report.restored} keys restored, {len(report.failed)} refused")
    for key, reason in report.failed[: backup.FAILURES_SHOWN]:
        click.echo(f"  {key!r}: {reason}", err=True)
    if report.stopped is not None:
        click.echo(f"Error: stopped reading {source}: {report.stopped}", err=True)
    if report.failed or report.libraries_failed or report.stopped is not None:
        sys.exit(EXIT_FAILURE)


def _register_bench() -> None:
    from epaxosdb.bench import command as bench_command

    main.add_command(bench_command)


_register_bench()

if __name__ == "__main__":
    main()
