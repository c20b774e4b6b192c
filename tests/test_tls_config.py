"""TLS in the cluster file and its files: what is accepted, and a clear refusal for the rest.

The certificates are made by ``trustme`` in each test. ``serve`` must refuse a
bad TLS setup at start-up — exit code 2, one line naming the file, no traceback,
and nothing created in the data dir — rather than accept clients it then drops.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from epaxosdb.certificates import CertificateError, peer_contexts, server_context
from epaxosdb.cli import EXIT_REFUSED
from epaxosdb.clusterfile import ClusterFileError, TlsSettings, load_cluster, parse_cluster


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A CA, the replica's certificate and key, a key of another certificate, and junk."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    other = ca.issue_cert("other.example")
    paths = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "other_key": tmp_path / "other-key.pem",
        "junk": tmp_path / "junk.pem",
        "encrypted_key": tmp_path / "encrypted-key.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    other.private_key_pem.write_to_path(str(paths["other_key"]))
    paths["junk"].write_text("not a certificate\n")
    paths["encrypted_key"].write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    return paths


def _replica(**keys: object) -> dict[str, object]:
    return {"id": 1, "client": "127.0.0.1:6379", "peer": "127.0.0.1:7379", **keys}


def test_tls_settings_come_from_cluster_and_a_replica_overrides_them() -> None:
    data: dict[str, object] = {
        "cluster": {
            "tls_cert_file": "certs/shared.pem",
            "tls_key_file": "/abs/shared.key",
            "tls_ca_cert_file": "certs/ca.pem",
            "tls_handshake_timeout_ms": 2500,
        },
        "replica": [
            _replica(tls_client="127.0.0.1:6389"),
            {"id": 2, "client": "127.0.0.1:6380", "peer": "127.0.0.1:7380",
             "tls_client": "127.0.0.1:6390", "tls_cert_file": "certs/two.pem",
             "tls_auth_clients": "optional"},
            {"id": 3, "client": "127.0.0.1:6381", "peer": "127.0.0.1:7381"},
        ],
    }  # fmt: skip
    cluster = parse_cluster(data, Path("/etc/epaxosdb"))
    one, two, three = (cluster.replica(i) for i in (1, 2, 3))
    assert one.tls_client is not None and one.tls_client.port == 6389
    assert one.tls == TlsSettings(
        Path("/etc/epaxosdb/certs/shared.pem"),
        Path("/abs/shared.key"),
        Path("/etc/epaxosdb/certs/ca.pem"),
        "yes",
    ), "relative paths resolve against the cluster file's directory; yes is the default"
    assert two.tls.cert_file == Path("/etc/epaxosdb/certs/two.pem")
    assert two.tls.key_file == Path("/abs/shared.key")
    assert two.tls.auth_clients == "optional"
    assert three.tls_client is None
    assert cluster.tls_handshake_timeout_s == 2.5


def test_a_replica_may_serve_tls_clients_only_but_needs_one_client_port() -> None:
    tls = {"tls_cert_file": "c.pem", "tls_key_file": "k.pem", "tls_auth_clients": False}
    only_tls = {"id": 1, "peer": "127.0.0.1:7379", "tls_client": "127.0.0.1:6389"}
    replica = parse_cluster({"cluster": tls, "replica": [only_tls]}).replica(1)
    assert replica.client is None and replica.tls.auth_clients == "no"
    with pytest.raises(ClusterFileError, match="needs a client address, a tls_client, or both"):
        parse_cluster({"cluster": tls, "replica": [{"id": 1, "peer": "127.0.0.1:7379"}]})


@pytest.mark.parametrize(
    ("cluster", "replica", "message"),
    [
        ({}, {"tls_client": "127.0.0.1:6389"},
         "has a tls_client but no tls_cert_file, tls_key_file, tls_ca_cert_file"),
        ({"tls_cert_file": "c", "tls_key_file": "k"}, {"tls_client": "127.0.0.1:6389"},
         "but no tls_ca_cert_file .*unless tls_auth_clients = \"no\""),
        ({"tls_auth_clients": "maybe"}, {}, "is \"yes\", \"no\" or \"optional\", not 'maybe'"),
        ({}, {"tls_cert_file": 7}, "replica 1 tls_cert_file must name a file"),
        ({"tls_key_file": ""}, {}, r"\[cluster\] tls_key_file must name a file"),
        ({}, {"tls_client": "127.0.0.1:6379", "tls_cert_file": "c", "tls_key_file": "k",
              "tls_auth_clients": "no"}, "share an address"),
        ({}, {"tls_clients": "127.0.0.1:6389"}, "unknown key 'tls_clients'"),
        ({"tls_port": 6389}, {}, "unknown .cluster. setting 'tls_port'"),
    ],
)  # fmt: skip
def test_bad_tls_settings_are_refused_naming_them(
    cluster: dict[str, object], replica: dict[str, object], message: str
) -> None:
    with pytest.raises(ClusterFileError, match=message):
        parse_cluster({"cluster": cluster, "replica": [_replica(**replica)]})


def test_a_good_certificate_key_and_ca_make_a_context_that_asks_for_client_certs(
    files: dict[str, Path],
) -> None:
    for auth, mode in (("yes", ssl.CERT_REQUIRED), ("optional", ssl.CERT_OPTIONAL),
                       ("no", ssl.CERT_NONE)):  # fmt: skip
        context = server_context(TlsSettings(files["cert"], files["key"], files["ca"], auth))
        assert context.verify_mode == mode
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("cert", "key", "ca", "message"),
    [
        ("missing", "key", "ca", "cannot read certificate file (tls_cert_file) {missing}"),
        ("cert", "missing", "ca", "cannot read private key file (tls_key_file) {missing}"),
        ("cert", "key", "missing", "cannot read CA certificate file (tls_ca_cert_file) {missing}"),
        ("cert", "other_key", "ca", "{other_key} does not hold the key of certificate {cert}"),
        ("junk", "key", "ca", "certificate file (tls_cert_file) {junk} holds no PEM certificate"),
        ("cert", "junk", "ca", "private key file (tls_key_file) {junk} holds no PEM private key"),
        ("cert", "key", "junk", "tls_ca_cert_file) {junk} holds no usable PEM certificate"),
        ("cert", "encrypted_key", "ca", "{encrypted_key} is encrypted with a passphrase"),
    ],
)
def test_bad_tls_files_are_refused_naming_the_file(
    files: dict[str, Path], tmp_path: Path, cert: str, key: str, ca: str, message: str
) -> None:
    files = {**files, "missing": tmp_path / "missing.pem"}
    with pytest.raises(CertificateError) as refused:
        server_context(TlsSettings(files[cert], files[key], files[ca]))
    assert message.format(**files) in str(refused.value)


def _cluster_file(tmp_path: Path, files: dict[str, Path], **tls: str) -> Path:
    keys = {"tls_cert_file": "cert.pem", "tls_key_file": "key.pem", "tls_ca_cert_file": "ca.pem"}
    keys.update(tls)
    path = tmp_path / "cluster.toml"
    path.write_text(
        "[cluster]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
        + '\n[[replica]]\nid = 1\nclient = "127.0.0.1:1"\npeer = "127.0.0.1:2"\n'
        'tls_client = "127.0.0.1:3"\ndata_dir = "data"\n'
    )
    return path


def test_relative_tls_paths_resolve_against_the_cluster_file(
    files: dict[str, Path], tmp_path: Path
) -> None:
    entry = load_cluster(_cluster_file(tmp_path, files)).replica(1)
    assert entry.tls.cert_file == files["cert"].resolve()
    server_context(entry.tls)  # loads: the paths name the files trustme wrote


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"tls_cert_file": "nowhere.pem"}, "cannot read certificate file (tls_cert_file) {dir}/"
         "nowhere.pem: No such file or directory"),
        ({"tls_key_file": "other-key.pem"}, "{dir}/other-key.pem does not hold the key of "
         "certificate {dir}/cert.pem"),
        ({"tls_key_file": "junk.pem"}, "(tls_key_file) {dir}/junk.pem holds no PEM private key"),
        ({"tls_ca_cert_file": "junk.pem"}, "{dir}/junk.pem holds no usable PEM certificate"),
        ({"tls_auth_clients": "sometimes"}, 'is "yes", "no" or "optional"'),
    ],
)  # fmt: skip
def test_serve_refuses_bad_tls_files_at_start_with_exit_2_and_the_file_named(
    files: dict[str, Path], tmp_path: Path, tls: dict[str, str], message: str
) -> None:
    path = _cluster_file(tmp_path, files, **tls)
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert message.format(dir=tmp_path.resolve()) in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists(), "nothing is created for a refused start"


# --- tls_peers: mutual TLS between replicas -------------------------------------------

PEER_FILES = {"tls_cert_file": "c.pem", "tls_key_file": "k.pem", "tls_ca_cert_file": "ca.pem"}


def _three(**per_replica: dict[str, object]) -> list[dict[str, object]]:
    return [
        {"id": i, "client": f"127.0.0.1:{6378 + i}", "peer": f"127.0.0.1:{7378 + i}",
         **per_replica.get(str(i), {})}
        for i in (1, 2, 3)
    ]  # fmt: skip


def test_tls_peers_is_off_unless_the_cluster_file_turns_it_on() -> None:
    assert parse_cluster({"replica": _three()}).tls_peers is False
    assert parse_cluster({"cluster": PEER_FILES, "replica": _three()}).tls_peers is False
    for on in (True, "yes"):
        cluster = parse_cluster({"cluster": {**PEER_FILES, "tls_peers": on}, "replica": _three()})
        assert cluster.tls_peers is True
    off = parse_cluster({"cluster": {**PEER_FILES, "tls_peers": "no"}, "replica": _three()})
    assert off.tls_peers is False


def test_tls_peers_takes_each_replicas_own_files_over_the_clusters() -> None:
    replicas = _three(**{"2": {"tls_cert_file": "two.pem", "tls_key_file": "two.key"}})
    cluster = parse_cluster(
        {"cluster": {**PEER_FILES, "tls_peers": True}, "replica": replicas}, Path("/etc/e")
    )
    assert cluster.replica(2).tls.cert_file == Path("/etc/e/two.pem")
    assert cluster.replica(2).tls.ca_cert_file == Path("/etc/e/ca.pem")
    assert cluster.replica(1).tls.cert_file == Path("/etc/e/c.pem")


@pytest.mark.parametrize(
    ("cluster", "replicas", "message"),
    [
        ({}, {}, "tls_peers is on but replica 1 has no tls_cert_file, tls_key_file, "
         "tls_ca_cert_file"),
        ({"tls_cert_file": "c", "tls_key_file": "k"}, {},
         "replica 1 has no tls_ca_cert_file .in .cluster. or its ..replica.. table."),
        ({"tls_cert_file": "c", "tls_ca_cert_file": "ca"}, {}, "replica 1 has no tls_key_file"),
        ({"tls_key_file": "k", "tls_ca_cert_file": "ca"},
         {"1": {"tls_cert_file": "1"}, "2": {"tls_cert_file": "2"}},
         "replica 3 has no tls_cert_file"),
    ],
)  # fmt: skip
def test_tls_peers_without_a_certificate_key_or_ca_is_refused_naming_what_is_missing(
    cluster: dict[str, object], replicas: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ClusterFileError, match=message):
        parse_cluster({"cluster": {**cluster, "tls_peers": True}, "replica": _three(**replicas)})


@pytest.mark.parametrize("value", [1, "true", "on", 0.0])
def test_tls_peers_is_a_boolean(value: object) -> None:
    with pytest.raises(ClusterFileError, match=r"\[cluster\] tls_peers is true or false"):
        parse_cluster({"cluster": {**PEER_FILES, "tls_peers": value}, "replica": _three()})


def test_tls_peers_is_a_cluster_setting_not_a_replicas() -> None:
    with pytest.raises(ClusterFileError, match="replica 1: unknown key 'tls_peers'"):
        parse_cluster({"cluster": PEER_FILES, "replica": _three(**{"1": {"tls_peers": True}})})


def test_peer_contexts_present_a_certificate_and_require_one_chained_to_the_ca(
    files: dict[str, Path],
) -> None:
    # tls_auth_clients concerns clients: a peer's certificate is required regardless.
    contexts = peer_contexts(TlsSettings(files["cert"], files["key"], files["ca"], "no"))
    assert contexts.accept.verify_mode == ssl.CERT_REQUIRED
    assert contexts.dial.verify_mode == ssl.CERT_REQUIRED
    assert contexts.dial.check_hostname is False, "peers are checked against the CA only"
    for context in (contexts.accept, contexts.dial):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        assert context.get_ca_certs(), "the CA file is loaded"


@pytest.mark.parametrize(
    ("cert", "key", "ca", "message"),
    [
        ("missing", "key", "ca", "cannot read certificate file (tls_cert_file) {missing}"),
        ("cert", "other_key", "ca", "{other_key} does not hold the key of certificate {cert}"),
        ("cert", "key", "junk", "tls_ca_cert_file) {junk} holds no usable PEM certificate"),
        ("cert", "key", None, "tls_peers needs tls_ca_cert_file"),
    ],
)
def test_bad_peer_tls_files_are_refused_naming_the_file(
    files: dict[str, Path], tmp_path: Path, cert: str, key: str, ca: str | None, message: str
) -> None:
    files = {**files, "missing": tmp_path / "missing.pem"}
    with pytest.raises(CertificateError) as refused:
        peer_contexts(TlsSettings(files[cert], files[key], files[ca] if ca else None))
    assert message.format(**files) in str(refused.value)


def _peer_cluster_file(tmp_path: Path, **tls: str) -> Path:
    keys = {"tls_cert_file": "cert.pem", "tls_key_file": "key.pem", "tls_ca_cert_file": "ca.pem"}
    keys.update(tls)
    path = tmp_path / "cluster.toml"
    path.write_text(
        "[cluster]\ntls_peers = true\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
        + "".join(
            f'\n[[replica]]\nid = {i}\nclient = "127.0.0.1:{i}1"\npeer = "127.0.0.1:{i}2"\n'
            f'data_dir = "data{i}"\n'
            for i in (1, 2, 3)
        )
    )
    return path


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"tls_cert_file": "nowhere.pem"}, "cannot speak TLS to peers (tls_peers): cannot read "
         "certificate file (tls_cert_file) {dir}/nowhere.pem: No such file or directory"),
        ({"tls_ca_cert_file": "junk.pem"}, "{dir}/junk.pem holds no usable PEM certificate"),
        ({"tls_key_file": "other-key.pem"}, "{dir}/other-key.pem does not hold the key of "
         "certificate {dir}/cert.pem"),
    ],
)  # fmt: skip
def test_serve_with_tls_peers_refuses_bad_files_at_start_with_exit_2_and_the_file_named(
    files: dict[str, Path], tmp_path: Path, tls: dict[str, str], message: str
) -> None:
    """A replica with no TLS client port at all still loads its peer files at start."""
    path = _peer_cluster_file(tmp_path, **tls)
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert message.format(dir=tmp_path.resolve()) in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, "one line"
    assert not (tmp_path / "data2").exists(), "nothing is created for a refused start"


def test_serve_refuses_tls_peers_without_a_ca_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(
        '[cluster]\ntls_peers = true\ntls_cert_file = "c.pem"\ntls_key_file = "k.pem"\n'
        '\n[[replica]]\nid = 1\nclient = "127.0.0.1:1"\npeer = "127.0.0.1:2"\ndata_dir = "d"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "tls_peers is on but replica 1 has no tls_ca_cert_file" in done.stderr
    assert "Traceback" not in done.stderr
