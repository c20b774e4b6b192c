"""The cluster file: what a valid one means, and a clear refusal for every bad one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from epaxosdb.cli import EXIT_REFUSED
from epaxosdb.clusterfile import (
    ClusterFileError,
    load_cluster,
    parse_cluster,
    render_cluster,
)


def _three(**cluster: object) -> dict[str, object]:
    replicas = [
        {"id": i, "client": f"127.0.0.1:{6378 + i}", "peer": f"127.0.0.1:{7378 + i}",
         "data_dir": f"data/{i}"}
        for i in (1, 2, 3)
    ]
    data: dict[str, object] = {"replica": replicas}
    if cluster:
        data["cluster"] = cluster
    return data


def test_a_rendered_cluster_file_loads_back_with_paths_relative_to_it(tmp_path: Path) -> None:
    text = render_cluster(
        [(i, f"127.0.0.1:{6378 + i}", f"127.0.0.1:{7378 + i}", f"d/{i}") for i in (3, 1, 2)],
        tick_ms=5,
    )
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    cluster = load_cluster(path)
    assert cluster.ids == (1, 2, 3)
    assert cluster.tick_ms == 5
    assert cluster.replica(2).data_dir == tmp_path.resolve() / "d" / "2"
    assert str(cluster.replica(3).client) == "127.0.0.1:6381"
    assert cluster.path == path.resolve(), "INFO's config_file names the file, not its directory"


def test_the_cluster_id_depends_on_membership_not_on_listing_order() -> None:
    a = parse_cluster(_three())
    shuffled = _three()
    shuffled["replica"] = list(reversed(shuffled["replica"]))  # type: ignore[call-overload]
    moved = _three()
    moved["replica"][0]["peer"] = "127.0.0.1:9999"  # type: ignore[index]
    assert parse_cluster(shuffled).cluster_id == a.cluster_id
    assert parse_cluster(moved).cluster_id != a.cluster_id
    named = parse_cluster(_three(id="prod"))
    assert named.cluster_id not in (a.cluster_id, parse_cluster(_three(id="test")).cluster_id)


def test_core_settings_reach_the_replica_and_unknown_ones_are_refused() -> None:
    cluster = parse_cluster(_three(batch_max=32, command_timeout_ms=500))
    assert cluster.core_settings() == {
        "batch_max": 32,
        "leave_behind_instances": 10_000,
        "leave_behind_bytes": 256 << 20,
        "leave_behind_ticks": 6_000,
    }
    assert cluster.command_timeout_s == 0.5
    quick = parse_cluster(
        _three(tick_ms=7, leave_behind_ms=100, leave_behind_instances=0, leave_behind_bytes=0)
    )
    assert quick.core_settings() == {
        "leave_behind_instances": 0,
        "leave_behind_bytes": 0,
        "leave_behind_ticks": 15,
    }
    with pytest.raises(ClusterFileError, match="unknown \\[cluster\\] setting 'batch_size'"):
        parse_cluster(_three(batch_size=32))
    with pytest.raises(ClusterFileError, match="batch_max must be an integer from 1 to"):
        parse_cluster(_three(batch_max="32"))


def test_an_unknown_table_or_replica_key_is_refused_naming_it() -> None:
    """A typo must not be ignored: ``[clustr] secret = ...`` would leave the cluster without
    its secret, ``dat_dir`` every replica without its data dir (a QA run)."""
    misspelt = _three()
    misspelt["clustr"] = {"secret": "x"}
    with pytest.raises(ClusterFileError, match="unknown table or key 'clustr'"):
        parse_cluster(misspelt)
    typo = _three()
    typo["replica"][1]["dat_dir"] = "x"  # type: ignore[index]
    with pytest.raises(ClusterFileError, match="replica 2: unknown key 'dat_dir'"):
        parse_cluster(typo)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("tick_ms", True, "tick_ms is an integer between 1 and 1000"),
        ("batch_max", True, "batch_max must be an integer from 1 to 1000000"),
        ("command_timeout_ms", 0, "command_timeout_ms must be an integer from 1 to"),
        ("batch_max", 0, "batch_max must be an integer from 1 to"),
        ("inflight_max", 0, "inflight_max must be an integer from 1 to"),
        ("retransmit_ticks", 0, "retransmit_ticks must be an integer from 1 to"),
        ("batch_max", 99999999999999999999, "batch_max must be an integer from 1 to 1000000"),
        ("leave_behind_bytes", -1, "leave_behind_bytes must be an integer from 0 to"),
        ("sync_bytes_max", (1 << 30) + 1, "sync_bytes_max must be an integer from 1 to"),
    ],
)
def test_a_setting_must_be_an_integer_within_its_range(
    setting: str, value: object, message: str
) -> None:
    with pytest.raises(ClusterFileError, match=message):
        parse_cluster(_three(**{setting: value}))


def test_settings_at_the_ends_of_their_ranges_are_accepted() -> None:
    lowest = parse_cluster(_three(leave_behind_ms=0, fast_wait_ticks=0, batch_max=1))
    assert lowest.core_settings()["batch_max"] == 1
    highest = parse_cluster(_three(batch_max=1_000_000, command_timeout_ms=86_400_000))
    assert highest.command_timeout_s == 86_400


def test_an_empty_data_dir_in_the_cluster_file_is_refused() -> None:
    """``data_dir = ""`` would be the cluster file's own directory."""
    data = _three()
    data["replica"][0]["data_dir"] = ""  # type: ignore[index]
    with pytest.raises(ClusterFileError, match="replica 1: data_dir is empty"):
        parse_cluster(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("replica"), "at least one \\[\\[replica\\]\\]"),
        (lambda d: d["replica"].pop(), "1, 3, 5 or 7 replicas, not 2"),
        (lambda d: d["replica"][1].update(id=1), "replica ids repeat"),
        (lambda d: d["replica"][0].update(id=0), "id must be an integer 1..255"),
        (lambda d: d["replica"][0].update(id=True), "id must be an integer 1..255"),
        (lambda d: d["replica"][0].update(client="localhost"), "must be \"host:port\""),
        (lambda d: d["replica"][0].update(peer="127.0.0.1:x"), "bad port"),
        (lambda d: d["replica"][0].update(peer="127.0.0.1:70000"), "bad host or port"),
        (lambda d: d["replica"][1].update(client="127.0.0.1:6379"), "share an address"),
        (lambda d: d["replica"][0].update(data_dir=7), "data_dir must be a string"),
        (lambda d: d.update(cluster={"tick_ms": 0}), "tick_ms is an integer"),
        (lambda d: d.update(cluster={"secret": 1}), "secret and requirepass are strings"),
        (lambda d: d.update(cluster=[1]), "\\[cluster\\] must be a table"),
    ],
)
def test_an_inconsistent_cluster_file_is_refused_with_the_reason(
    mutate: object, message: str
) -> None:
    data = _three()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ClusterFileError, match=message):
        parse_cluster(data)


def test_a_missing_or_malformed_file_is_refused_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ClusterFileError, match=r"cannot read cluster file .*nope\.toml"):
        load_cluster(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[replica]\nid = 1\n")
    with pytest.raises(ClusterFileError, match=r"broken\.toml is not valid TOML"):
        load_cluster(broken)


def test_serve_exits_with_a_clear_message_on_a_bad_cluster_file_or_unknown_id(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"\x00\xff garbage")
    good = tmp_path / "good.toml"
    good.write_text(render_cluster([(1, "127.0.0.1:1", "127.0.0.1:2", "d")]))
    for path, rid, expected in (
        (broken, 1, "is not valid TOML"),
        (good, 4, "replica 4 is not in the cluster file"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", str(rid)],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == EXIT_REFUSED, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def test_serve_refuses_a_zero_batch_max_as_a_cluster_file_error(tmp_path: Path) -> None:
    """It used to reach the core and stop the start as a data dir failure (exit 1)."""
    path = tmp_path / "cluster.toml"
    path.write_text(
        render_cluster([(1, "127.0.0.1:1", "127.0.0.1:2", "d")]).replace(
            "tick_ms = 10", "tick_ms = 10\nbatch_max = 0"
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "batch_max must be an integer from 1 to" in done.stderr
    assert "cannot open data dir" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists(), "nothing is created for a refused cluster file"


def test_user_tables_give_each_user_its_rules_in_order() -> None:
    data = _three()
    data["user"] = [
        {"name": "reader", "rules": "on >pw ~* &*  +@read"},
        {"name": "default", "rules": "resetpass >admin"},
    ]
    config = parse_cluster(data)
    assert config.users == (
        (b"reader", (b"on", b">pw", b"~*", b"&*", b"+@read")),
        (b"default", (b"resetpass", b">admin")),
    )
    assert parse_cluster(_three()).users == ()


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"name": "a", "rules": "on +gett"}, "user 'a': rule '+gett': Unknown command or category"),
        ({"name": "a", "rules": "on ~* ~x"}, "user 'a': rule '~x': Adding a pattern after the *"),
        ({"name": "a", "rules": "(+get)"}, "Selectors are not supported"),
        ({"name": "a b", "rules": "on"}, "name is a string without spaces"),
        ({"rules": "on"}, "name is a string without spaces"),
        ({"name": "a\u000bb", "rules": "on"}, "name is a string without spaces or NUL"),
        ({"name": "a\u0000", "rules": "on"}, "name is a string without spaces or NUL"),
        ({"name": "a", "rules": ["on"]}, "rules is a string of ACL rules"),
        ({"name": "a", "role": "admin"}, "unknown key 'role'"),
    ],
)
def test_a_bad_user_table_is_refused_naming_the_user_and_rule(
    user: dict[str, object], message: str
) -> None:
    data = _three()
    data["user"] = [user]
    with pytest.raises(ClusterFileError, match=re.escape(message)):
        parse_cluster(data)


def test_a_user_named_twice_is_refused() -> None:
    data = _three()
    data["user"] = [{"name": "a", "rules": "on"}, {"name": "a", "rules": "off"}]
    with pytest.raises(ClusterFileError, match="user 'a' appears twice"):
        parse_cluster(data)
