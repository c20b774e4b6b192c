"""RESP clients over TLS (Redis's ``tls-port``), against real replica processes.

Certificates come from ``trustme``: one CA signs the replicas' certificate and
a client certificate; a second CA, which the replicas do not trust, signs an
"untrusted" client certificate. The shared 3-replica cluster requires client
certificates (``tls_auth_clients`` left at its default, ``yes``, as in Redis);
private 1-replica clusters show ``optional``, ``no`` and a TLS-only replica.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import trustme

from tests.integration.cluster import (
    CLIENT_TIMEOUT_S,
    ProcessCluster,
    ReplicaProcess,
    redis_cli,
    wait_until,
)
from tests.integration.conftest import module_cluster
from tests.redis_server import free_port

HANDSHAKE_TIMEOUT_MS = 1000
"""Short, so a silent client is seen closed quickly; the waits below are far longer."""
CLOSE_WAIT_S = 30.0
"""How long a test waits for the server to close a connection (bounded, never timed)."""


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    untrusted_cert: Path
    untrusted_key: Path

    def settings(self, **extra: object) -> dict[str, object]:
        """``[cluster]`` TLS settings for these files (absolute paths)."""
        return {
            "tls_cert_file": str(self.server_cert),
            "tls_key_file": str(self.server_key),
            "tls_ca_cert_file": str(self.ca),
            "tls_handshake_timeout_ms": HANDSHAKE_TIMEOUT_MS,
            **extra,
        }


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.example")
    untrusted = trustme.CA().issue_cert("client.example")
    files = {
        "ca": ca.cert_pem,
        "server_cert": server.cert_chain_pems[0],
        "server_key": server.private_key_pem,
        "client_cert": client.cert_chain_pems[0],
        "client_key": client.private_key_pem,
        "untrusted_cert": untrusted.cert_chain_pems[0],
        "untrusted_key": untrusted.private_key_pem,
    }
    paths = {}
    for name, blob in files.items():
        path = directory / f"{name}.pem"
        blob.write_to_path(str(path))
        paths[name] = path
    return Certificates(**paths)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls3(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    certs: Certificates,
) -> Iterator[ProcessCluster]:
    """Three replicas, each with a plain and a TLS client port; client certs required."""
    yield from module_cluster(request, tmp_path_factory, 3, tls=True, **certs.settings())


def tls_client(
    cluster: ProcessCluster, i: int, certs: Certificates, *, cert: str = "client", **kw: Any
) -> redis.Redis:
    """redis-py over TLS to replica ``i``: trusts the CA; presents ``cert`` ("client",
    "untrusted" or "none")."""
    options: dict[str, Any] = {
        "port": cluster.replicas[i].tls_port,
        "ssl": True,
        "ssl_ca_certs": str(certs.ca),
        "ssl_cert_reqs": "required",
    }
    if cert != "none":
        options["ssl_certfile"] = str(getattr(certs, f"{cert}_cert"))
        options["ssl_keyfile"] = str(getattr(certs, f"{cert}_key"))
    options.update(kw)
    return cluster.client(i, **options)


def closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes ``sock`` (fails if it never does)."""
    sock.settimeout(CLOSE_WAIT_S)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(
            f"the server did not close the connection within {CLOSE_WAIT_S:.0f}s"
        ) from None
    return received


def test_redis_py_writes_over_tls_and_another_replica_reads_it_over_tls(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    writer = tls_client(tls3, 1, certs)
    assert writer.set("tls:key", "over tls") is True
    assert writer.get("tls:key") == b"over tls"
    reader = tls_client(tls3, 2, certs)
    assert reader.get("tls:key") == b"over tls"
    # The plain port of the third replica sees the same data: one keyspace, two ports.
    assert tls3.client(3).get("tls:key") == b"over tls"


def test_redis_cli_tls_with_client_certificate(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    port = tls3.replicas[3].tls_port
    tls_args = ["--tls", "--cacert", str(certs.ca), "--cert", str(certs.client_cert),
                "--key", str(certs.client_key)]  # fmt: skip
    done = redis_cli(port, *tls_args, "SET", "tls:cli", "from redis-cli")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"OK"
    read = redis_cli(tls3.replicas[1].tls_port, *tls_args, "GET", "tls:cli")
    assert read.stdout.strip() == b"from redis-cli", read.stderr
    without_tls = redis_cli(port, "PING")
    assert b"PONG" not in without_tls.stdout


def test_config_get_info_and_client_list_report_tls(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    r = tls_client(tls3, 1, certs)
    port = tls3.replicas[1].tls_port
    assert r.config_get("tls-*") == {
        "tls-port": str(port),
        "tls-cert-file": str(certs.server_cert),
        "tls-key-file": str(certs.server_key),
        "tls-ca-cert-file": str(certs.ca),
        "tls-auth-clients": "yes",
        "tls-replication": "no",
        "tls-cluster": "no",
    }
    assert r.config_get("port") == {"port": str(tls3.port(1))}
    server = r.info("server")
    assert server["tls_port"] == port
    assert server["tcp_port"] == tls3.port(1)
    mine = r.client_info()
    assert mine["laddr"] == f"127.0.0.1:{port}"
    listed = [c for c in r.client_list() if str(c["id"]) == str(mine["id"])]
    assert listed and listed[0]["laddr"] == f"127.0.0.1:{port}"


def test_pipelining_pubsub_and_blocking_pops_over_tls(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    r = tls_client(tls3, 1, certs)
    pipe = r.pipeline(transaction=False)
    for n in range(200):
        pipe.set(f"tls:pipe:{n}", n)
    pipe.get("tls:pipe:199")
    replies = pipe.execute()
    assert replies[:-1] == [True] * 200 and replies[-1] == b"199"

    subscriber = tls_client(tls3, 2, certs).pubsub()
    subscriber.subscribe("tls:channel")
    first = subscriber.get_message(timeout=CLIENT_TIMEOUT_S)
    assert first is not None and first["type"] == "subscribe"

    def published() -> bool:
        tls3.client(3).publish("tls:channel", "hello")
        message = subscriber.get_message(timeout=1.0)
        return message is not None and message["data"] == b"hello"

    wait_until(published, CLIENT_TIMEOUT_S, "a message published on replica 3 reached TLS")
    subscriber.close()

    popped: list[object] = []
    popper = tls_client(tls3, 1, certs)
    thread = threading.Thread(target=lambda: popped.append(popper.blpop(["tls:list"], 30)))
    thread.start()
    wait_until(
        lambda: any(c["cmd"] == "blpop" for c in r.client_list()),
        CLIENT_TIMEOUT_S,
        "the TLS client blocked in BLPOP",
    )
    tls3.client(2).rpush("tls:list", "item")
    thread.join(CLOSE_WAIT_S)
    assert not thread.is_alive()
    assert popped == [(b"tls:list", b"item")]


def test_a_client_without_a_certificate_is_refused_when_certificates_are_required(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    anonymous = tls_client(tls3, 1, certs, cert="none")
    with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
        anonymous.ping()
    assert tls3.logged(1, "the client sent no certificate")
    assert tls_client(tls3, 1, certs).ping() is True


def test_plaintext_and_untrusted_clients_are_disconnected_while_others_are_served(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    bystander = tls_client(tls3, 2, certs)
    assert bystander.set("tls:bystander", "before") is True
    with socket.create_connection(("127.0.0.1", tls3.replicas[2].tls_port), 5.0) as plain:
        plain.sendall(b"PING\r\n")
        assert b"PONG" not in closed_by_server(plain)
    untrusted = tls_client(tls3, 2, certs, cert="untrusted")
    with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
        untrusted.ping()
    assert bystander.get("tls:bystander") == b"before"
    assert bystander.set("tls:bystander", "after") is True
    assert tls3.logged(2, "not TLS: a plain-text client on the TLS port")
    assert tls3.logged(2, "not signed by tls_ca_cert_file")
    assert tls3.replicas[2].running


def test_a_silent_client_on_the_tls_port_blocks_nobody_and_is_closed(
    tls3: ProcessCluster, certs: Certificates
) -> None:
    with contextlib.ExitStack() as stack:
        silent = [
            stack.enter_context(socket.create_connection(("127.0.0.1", tls3.replicas[3].tls_port)))
            for _ in range(3)
        ]
        served = tls_client(tls3, 3, certs)
        assert served.set("tls:silent", "served") is True
        assert served.get("tls:silent") == b"served"
        for sock in silent:
            assert closed_by_server(sock) == b""
    assert tls3.logged(3, f"no TLS handshake within {HANDSHAKE_TIMEOUT_MS / 1000:g}s")
    assert served.ping() is True


def test_auth_applies_over_tls(
    make_cluster: Callable[..., ProcessCluster], certs: Certificates
) -> None:
    cluster = make_cluster(1, tls=True, **certs.settings())
    assert tls_client(cluster, 1, certs).config_set("requirepass", "sesame") is True
    with pytest.raises(redis.AuthenticationError):
        tls_client(cluster, 1, certs).set("k", "v")
    r = tls_client(cluster, 1, certs, password="sesame")
    assert r.set("k", "v") is True


@pytest.mark.parametrize("auth_clients", ["optional", "no"])
def test_a_client_without_a_certificate_is_served_when_certificates_are_not_required(
    make_cluster: Callable[..., ProcessCluster], certs: Certificates, auth_clients: str
) -> None:
    cluster = make_cluster(1, tls=True, **certs.settings(tls_auth_clients=auth_clients))
    anonymous = tls_client(cluster, 1, certs, cert="none")
    assert anonymous.set("anonymous", auth_clients) is True
    assert anonymous.get("anonymous") == auth_clients.encode()
    assert anonymous.config_get("tls-auth-clients") == {"tls-auth-clients": auth_clients}
    with_cert = tls_client(cluster, 1, certs)
    assert with_cert.get("anonymous") == auth_clients.encode()
    if auth_clients == "optional":  # a certificate presented is still checked
        with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
            tls_client(cluster, 1, certs, cert="untrusted").ping()


def test_a_replica_with_only_a_tls_port_serves_tls_clients(
    tmp_path: Path, certs: Certificates
) -> None:
    """No ``client`` address: Redis's ``port 0`` with a ``tls-port``."""
    peer, tls_port = free_port(), free_port()
    config = tmp_path / "cluster.toml"
    settings = "\n".join(
        f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
        for k, v in certs.settings().items()
    )
    config.write_text(
        f"[cluster]\n{settings}\n\n[[replica]]\nid = 1\npeer = \"127.0.0.1:{peer}\"\n"
        f'tls_client = "127.0.0.1:{tls_port}"\ndata_dir = "data"\n'
    )
    with ProcessCluster(tmp_path, [], config) as cluster:
        cluster.replicas[1] = ReplicaProcess(
            1, 0, peer, tmp_path / "data", tmp_path / "replica-1.log", tls_port=tls_port
        )
        cluster._spawn(1)
        r = tls_client(cluster, 1, certs, socket_connect_timeout=5.0)

        def answers() -> bool:
            try:
                return bool(r.ping())
            except (redis.ConnectionError, OSError):
                return False

        wait_until(answers, 60.0, "the TLS-only replica answered PING")
        assert r.set("only", "tls") is True
        assert r.info("server")["tcp_port"] == 0
        assert r.config_get("port") == {"port": "0"}
        assert r.config_get("tls-port") == {"tls-port": str(tls_port)}
