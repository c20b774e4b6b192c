"""tools/wan_proxy.py: the generated cluster files and the proxy's byte path (not its timing)."""

from __future__ import annotations

import importlib.util
import sys
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import trio

from epaxosdb.clusterfile import load_cluster

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wan_proxy", ROOT / "tools" / "wan_proxy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wan_proxy"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


wan = load_tool()


@pytest.mark.parametrize("name", ["paper3", "paper5"])
def test_every_replica_file_is_valid_and_names_the_same_cluster(name: str, tmp_path: Path) -> None:
    layout = wan.Layout(wan.MATRICES[name], 0.1, 7400, tmp_path, 20)
    clusters = [load_cluster(p) for p in layout.write_files()]
    assert len({c.cluster_id for c in clusters}) == 1
    assert all(c.tick_ms == 20 for c in clusters)
    assert all(c.ids == tuple(range(1, layout.n + 1)) for c in clusters)


def test_a_replica_reaches_higher_ids_through_the_pairs_proxy_and_listens_on_its_own_port(
    tmp_path: Path,
) -> None:
    layout = wan.Layout(wan.MATRICES["paper5"], 1.0, 7400, tmp_path)
    layout.write_files()
    c2 = load_cluster(tmp_path / "cluster-2.toml")
    assert c2.replica(2).peer.port == layout.peer_port(2)
    assert c2.replica(1).peer.port == layout.peer_port(1)
    for j in (3, 4, 5):
        assert c2.replica(j).peer.port == layout.proxy_port(2, j)
    assert len({layout.proxy_port(i, j) for i, j in layout.pairs()}) == 10


def test_one_way_delay_is_half_the_scaled_round_trip() -> None:
    m = wan.MATRICES["paper5"]
    ca, eu = m.sites.index("CA"), m.sites.index("EU")
    assert m.one_way_s(ca, eu, 0.1) == pytest.approx(0.156 * 0.1 / 2)


def test_expected_fast_path_waits_for_the_n_minus_2_closest_peers() -> None:
    paths = {site: (fast, slow) for site, fast, slow in wan.expected_paths(
        wan.MATRICES["paper5"], 1.0)}
    assert paths["CA"] == (118, 2 * 85)  # OR 21, VA 85, JP 118: 3 peers for a quorum of 4
    three = {site: fast for site, fast, _ in wan.expected_paths(wan.MATRICES["paper3"], 1.0)}
    assert three == {"CA": 85, "VA": 85, "EU": 90}


def test_a_matrix_that_is_not_square_is_refused() -> None:
    with pytest.raises(ValueError):
        wan.Matrix(("a", "b", "c"), ((0, 1, 2), (1, 0)))


async def test_the_proxy_passes_bytes_both_ways_in_order() -> None:
    received: list[bytes] = []

    async def echo_upper(stream: trio.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                received.append(data)
                await stream.send_all(data.upper())

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            serve_echo = partial(trio.serve_tcp, echo_upper, 0, host="127.0.0.1")
            listeners = await nursery.start(serve_echo)
            target = listeners[0].socket.getsockname()[1]

            async def handler(stream: trio.SocketStream) -> None:
                await wan._handle(stream, target, 0.001, 0.002)

            proxies = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
            client = await trio.open_tcp_stream("127.0.0.1", proxies[0].socket.getsockname()[1])
            message = b"".join(b"chunk-%d;" % i for i in range(2000))
            for i in range(0, len(message), 1000):
                await client.send_all(message[i : i + 1000])
            back = b""
            while len(back) < len(message):
                back += await client.receive_some(65536)
            assert back == message.upper()
            assert b"".join(received) == message
            await client.aclose()
            nursery.cancel_scope.cancel()
