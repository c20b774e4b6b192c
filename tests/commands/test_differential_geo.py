"""GEO commands against redis-server: replies, stored scores and errors, byte for byte.

A table of edge cases (the documentation's example, every option and error, missing
keys, the coordinate limits, scores that are no geohash, the antimeridian, the latitude
limits where Redis's search misses members, distance ties under COUNT, huge radii,
stores) runs under RESP2 and RESP3; seeded random sequences (``GeoGenerator``) mix
GEOADD, every search, stores, ZRANGE WITHSCORES, GEOPOS, GEODIST and GEOHASH over a few
keys. Rerun one seed with ``EPAXOSDB_GEO_SEED=<seed>``.

One difference is known and pinned by a test of its own, everything else is compared
byte for byte: a GEORADIUS whose destination its key specs do not name (``STORE a STORE
b``) is refused here, stored by Redis (see ``epaxosdb.commands.geo``).
"""

from __future__ import annotations

import os
import random

import pytest

from epaxosdb.commands.geo import UNDECLARED_DESTINATION
from storage.interface import ValueType
from tests.commands.differential import PTTL_TOLERANCE_MS, Differential
from tests.commands.test_geo import GeoGenerator
from tests.redis_server import RedisServer

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_GEO_SEED", "1 2 3").split()]
STEPS = 600


def check(diff: Differential, *args: bytes, context: str = "") -> bytes:
    return diff.check(*args, context=context)


SICILY = [b"GEOADD", b"Sicily", b"13.361389", b"38.115556", b"Palermo", b"15.087269",
          b"37.502669", b"Catania"]  # fmt: skip


def _polar_points() -> list[bytes]:
    """200 points around (179, 84.8), across the antimeridian and up to the limit."""
    rng = random.Random(2)
    args = [b"GEOADD", b"polar"]
    for i in range(200):
        longitude = (179 + rng.uniform(-6, 6) + 180) % 360 - 180
        latitude = min(84.8 + rng.uniform(-4, 4), 85.05112878)
        args += [repr(longitude).encode(), repr(latitude).encode(), b"p%d" % i]
    return args


def _tied_points() -> list[bytes]:
    """300 members on four places: many equal distances for COUNT to choose among."""
    rng = random.Random(5)
    places = [(b"13.1", b"38.1"), (b"13.2", b"38.2"), (b"13.3", b"38.0"), (b"12.9", b"37.9")]
    args = [b"GEOADD", b"tied"]
    for i in range(300):
        args += [*rng.choice(places), b"t%d" % i]
    return args


def _scattered(key: bytes, longitude: float, latitude: float, spread: float) -> list[bytes]:
    rng = random.Random(key)
    args = [b"GEOADD", key]
    for i in range(120):
        lon = (longitude + rng.uniform(-spread, spread) + 180) % 360 - 180
        lat = max(min(latitude + rng.uniform(-spread / 2, spread / 2), 85.0), -85.0)
        args += [b"%.5f" % lon, b"%.5f" % lat, b"s%d" % i]
    return args


RADIUS_ORDERS = [[], [b"ASC"], [b"DESC"]]
EDGE_CASES: dict[str, list[list[bytes]]] = {
    "documentation example": [
        SICILY,
        [b"GEODIST", b"Sicily", b"Palermo", b"Catania"],
        [b"GEODIST", b"Sicily", b"Palermo", b"Catania", b"km"],
        [b"GEODIST", b"Sicily", b"Palermo", b"Catania", b"MI"],
        [b"GEODIST", b"Sicily", b"Palermo", b"nope"],
        [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"WITHDIST"],
        [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"WITHCOORD"],
        [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"WITHDIST", b"WITHCOORD"],
        [b"GEORADIUSBYMEMBER", b"Sicily", b"Palermo", b"200", b"km", b"WITHHASH"],
        [b"GEOADD", b"Sicily", b"13.583333", b"37.316667", b"Agrigento"],
        [b"GEOSEARCH", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200", b"km",
         b"ASC"],
        [b"GEOSEARCH", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"400", b"400", b"km",
         b"ASC", b"WITHCOORD", b"WITHDIST"],
        [b"GEOHASH", b"Sicily", b"Palermo", b"Catania", b"nope"],
        [b"GEOPOS", b"Sicily", b"Palermo", b"Catania", b"NonExisting"],
        [b"ZRANGE", b"Sicily", b"0", b"-1", b"WITHSCORES"],
    ],
    "geoadd options and errors": [
        SICILY,
        [b"GEOADD", b"Sicily", b"NX", b"CH", b"13.5", b"38.1", b"Palermo", b"15", b"37", b"O"],
        [b"GEOADD", b"Sicily", b"xx", b"ch", b"13.5", b"38.1", b"Palermo", b"15", b"37", b"N"],
        [b"GEOADD", b"Sicily", b"CH", b"XX", b"CH", b"13.6", b"38.1", b"Palermo"],
        [b"GEOADD", b"Sicily", b"XX", b"NX", b"13.5", b"38.1", b"Palermo"],
        [b"GEOADD", b"Sicily", b"ch", b"ch", b"ch"],
        [b"GEOADD", b"Sicily", b"GT", b"1", b"2", b"x"],
        [b"GEOADD", b"Sicily", b"1", b"2", b"x", b"3"],
        [b"GEOADD", b"Sicily", b"nx\x00junk", b"1", b"2", b"x"],
        [b"GEOADD", b"Sicily", b"abc", b"2", b"x"],
        [b"GEOADD", b"Sicily", b" 1", b"2", b"x"],
        [b"GEOADD", b"Sicily", b"1", b"2", b"ok", b"1", b"nan", b"bad"],
        [b"GEOADD", b"new", b"XX", b"1", b"2", b"x"],
        [b"EXISTS", b"new"],
        [b"ZRANGE", b"Sicily", b"0", b"-1", b"WITHSCORES"],
    ],
    "coordinate limits": [
        [b"GEOADD", b"edges", b"180", b"85.05112878", b"top", b"-180", b"-85.05112878", b"bottom",
         b"0", b"85.05112878", b"north", b"180", b"0", b"east", b"0x1p-1074", b"-0", b"tiny"],
        [b"GEOADD", b"edges", b"180", b"85.05112879", b"over"],
        [b"GEOADD", b"edges", b"180.0000001", b"0", b"over"],
        [b"GEOADD", b"edges", b"-inf", b"0", b"over"],
        [b"GEOADD", b"edges", b"1e300", b"-1e-300", b"over"],
        [b"GEOADD", b"edges", b"0", b"-90", b"over"],
        [b"ZRANGE", b"edges", b"0", b"-1", b"WITHSCORES"],
        [b"GEOPOS", b"edges", b"top", b"bottom", b"north", b"east", b"tiny"],
        [b"GEOHASH", b"edges", b"top", b"bottom", b"north", b"east", b"tiny"],
        [b"GEODIST", b"edges", b"top", b"bottom", b"km"],
        [b"GEOSEARCH", b"edges", b"FROMMEMBER", b"north", b"BYRADIUS", b"100", b"km",
         b"WITHDIST", b"WITHHASH", b"WITHCOORD"],
        [b"GEOSEARCH", b"edges", b"FROMLONLAT", b"180", b"0", b"BYBOX", b"100", b"100", b"km"],
        [b"GEORADIUS", b"edges", b"0", b"85.05112878", b"50", b"km", b"WITHDIST"],
    ],
    "scores that are no geohash": [
        *([b"ZADD", b"raw", score, b"s" + score] for score in (
            b"-1", b"-0.5", b"1.5", b"1e19", b"18446744073709551616", b"inf", b"-inf",
            b"9223372036854775808", b"-1e19", b"4503599627370496", b"4503599627370495",
            b"9007199254740993", b"1e-300", b"3e15",
        )),
        [b"ZRANGE", b"raw", b"0", b"-1"],
        [b"GEOPOS", b"raw", b"s-1", b"s-0.5", b"s1.5", b"s1e19", b"sinf", b"s-inf", b"s3e15"],
        [b"GEOHASH", b"raw", b"s-1", b"s4503599627370495", b"s9223372036854775808", b"s1e-300"],
        [b"GEODIST", b"raw", b"s-1", b"sinf", b"km"],
        [b"GEOSEARCH", b"raw", b"FROMMEMBER", b"s-inf", b"BYRADIUS", b"30000", b"km",
         b"WITHDIST", b"WITHHASH"],
        [b"GEOSEARCH", b"raw", b"FROMLONLAT", b"0", b"0", b"BYRADIUS", b"30000", b"km",
         b"WITHHASH", b"ASC"],
        [b"GEORADIUSBYMEMBER", b"raw", b"s1.5", b"10000", b"km", b"STORE", b"copy"],
        [b"ZRANGE", b"copy", b"0", b"-1", b"WITHSCORES"],
    ],
    "antimeridian": [
        [b"GEOADD", b"am", b"179.99", b"0", b"e1", b"-179.99", b"0.01", b"w1", b"180", b"0.02",
         b"e2", b"-180", b"-0.02", b"w2", b"179.5", b"1", b"e3", b"-179.5", b"-1", b"w3"],
        *([b"GEOSEARCH", b"am", b"FROMLONLAT", center, b"0", *by, b"WITHDIST", b"ASC"]
          for center in (b"179.99", b"-179.99", b"180", b"-180")
          for by in ([b"BYRADIUS", b"10", b"km"], [b"BYRADIUS", b"200", b"km"],
                     [b"BYBOX", b"120", b"30", b"km"], [b"BYBOX", b"5", b"300", b"km"])),
        [b"GEORADIUSBYMEMBER", b"am", b"w2", b"3", b"km", b"WITHDIST"],
        [b"GEODIST", b"am", b"e2", b"w2"],
    ],
    "latitude limits, where the nine cells miss members": [
        _polar_points(),
        *([b"GEOSEARCH", b"polar", b"FROMLONLAT", b"179", b"84.8", *by, b"WITHDIST", b"ASC"]
          for by in ([b"BYRADIUS", b"2000", b"km"], [b"BYRADIUS", b"80", b"km"],
                     [b"BYBOX", b"3000", b"1000", b"km"], [b"BYBOX", b"200", b"900", b"km"])),
        [b"GEOSEARCH", b"polar", b"FROMMEMBER", b"p7", b"BYRADIUS", b"500", b"km", b"DESC"],
        [b"GEORADIUS", b"polar", b"-179", b"-85", b"1000", b"km"],
    ],
    "a neighbour short of the box: one step coarser": [
        _scattered(b"coarse", -60.23, -64.45, 40.0),
        *([b"GEOSEARCH", b"coarse", b"FROMLONLAT", b"-60.23", b"-64.45", *by, *extra]
          for by in ([b"BYRADIUS", b"1000", b"km"], [b"BYBOX", b"2748.5", b"731.6", b"km"])
          for extra in ([b"WITHDIST"], [b"COUNT", b"5", b"ANY"], [b"COUNT", b"9", b"DESC"])),
    ],
    "equal distances under COUNT (pqsort)": [
        _tied_points(),
        *([b"GEOSEARCH", b"tied", b"FROMLONLAT", b"13", b"38", b"BYRADIUS", b"100", b"km",
           b"COUNT", count, *order, *extra]
          for count in (b"1", b"5", b"7", b"8", b"41", b"100", b"299", b"301")
          for order in RADIUS_ORDERS for extra in ([], [b"ANY"])),
        *([b"GEORADIUS", b"tied", b"13", b"38", b"100", b"km", b"COUNT", count, b"STOREDIST",
           b"out"] for count in (b"3", b"50")),
        [b"ZRANGE", b"out", b"0", b"-1", b"WITHSCORES"],
        [b"GEOSEARCH", b"tied", b"FROMLONLAT", b"13", b"38", b"BYRADIUS", b"100", b"km", b"DESC"],
    ],
    "huge and zero radii": [
        SICILY,
        [b"GEOADD", b"Sicily", b"-100", b"40", b"far", b"100", b"-40", b"antipode"],
        *([b"GEOSEARCH", b"Sicily", b"FROMMEMBER", b"Palermo", *by, b"WITHDIST", b"ASC"]
          for by in ([b"BYRADIUS", b"20000", b"km"], [b"BYRADIUS", b"inf", b"km"],
                     [b"BYRADIUS", b"1e308", b"mi"], [b"BYBOX", b"inf", b"inf", b"m"],
                     [b"BYRADIUS", b"0", b"m"], [b"BYBOX", b"0", b"0", b"km"],
                     [b"BYRADIUS", b"-0", b"km"])),
    ],
    "one meridian: the shortcut distance, stored whole": [
        [b"GEOADD", b"mer", b"178.158206", b"59.755712", b"a", b"178.158206", b"-45.439725", b"b"],
        [b"GEODIST", b"mer", b"a", b"b"],
        [b"GEOSEARCHSTORE", b"d", b"mer", b"FROMMEMBER", b"a", b"BYRADIUS", b"20000", b"km",
         b"STOREDIST"],
        [b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES"],
        [b"GEOSEARCHSTORE", b"d", b"mer", b"FROMLONLAT", b"178.158206", b"0", b"BYBOX", b"1",
         b"20000", b"km", b"STOREDIST"],
        [b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES"],
    ],
    "search options and their errors": [
        SICILY,
        *([b"GEORADIUS", b"Sicily", b"15", b"37", *tail] for tail in (
            [b"200", b"km", b"COUNT", b"1"], [b"200", b"km", b"COUNT", b"1", b"ANY"],
            [b"200", b"km", b"ANY"], [b"200", b"km", b"COUNT", b"0"], [b"200", b"km", b"COUNT"],
            [b"200", b"km", b"COUNT", b"x"], [b"200", b"km", b"COUNT", b"-3"], [b"-1", b"km"],
            [b"x", b"km"], [b"1", b"kmx"], [b"1", b"km\x00x"], [b"200", b"km", b"WITHDIST\x00!"],
            [b"200", b"km", b"STORE"], [b"200", b"km", b"STORE", b"x", b"WITHHASH"],
            [b"200", b"km", b"FROMMEMBER", b"Palermo"], [b"200", b"km", b"desc", b"asc"],
        )),
        [b"GEORADIUS", b"Sicily", b"15", b"95", b"1", b"km"],
        [b"GEORADIUS", b"Sicily", b"x", b"95", b"1", b"km"],
        [b"GEORADIUS_RO", b"Sicily", b"15", b"37", b"200", b"km", b"STORE", b"x"],
        [b"GEORADIUSBYMEMBER", b"Sicily", b"nope", b"x", b"km"],
        [b"GEORADIUSBYMEMBER", b"Sicily", b"Palermo", b"x", b"km"],
        [b"GEORADIUSBYMEMBER_RO", b"Sicily", b"Palermo", b"1", b"km", b"STOREDIST", b"x"],
        *([b"GEOSEARCH", b"Sicily", *tail] for tail in (
            [b"FROMLONLAT", b"15", b"37", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"1", b"km"],
            [b"FROMMEMBER", b"Palermo", b"FROMMEMBER", b"Catania", b"BYRADIUS", b"1", b"km"],
            [b"FROMMEMBER", b"nope", b"BYRADIUS", b"x", b"km"],
            [b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"1", b"km", b"BYBOX", b"1", b"1", b"km"],
            [b"FROMLONLAT", b"15", b"37", b"BYBOX", b"-1", b"1", b"km"],
            [b"FROMLONLAT", b"15", b"37", b"BYBOX", b"x", b"y", b"km"],
            [b"FROMLONLAT", b"15", b"37", b"BYBOX", b"1", b"y", b"km"],
            [b"FROMLONLAT", b"15", b"37", b"BYBOX", b"1", b"1", b"yd"],
            [b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200", b"km", b"STORE", b"x"],
            [b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200", b"km", b"STOREDIST"],
            [b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200"],
            [b"BYRADIUS", b"200", b"km", b"WITHDIST", b"ANY"],
            [b"FROMLONLAT", b"15", b"37", b"WITHDIST", b"ANY"],
            [b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200", b"km", b"ANY"],
            [b"FROMLONLAT", b"200", b"37", b"BYRADIUS", b"200", b"km"],
        )),
        [b"geosearch", b"Sicily", b"BYBOX", b"400", b"400", b"km"],
        [b"GeoSearch", b"Sicily", b"FROMLONLAT", b"15", b"37", b"COUNT", b"2"],
        [b"geosearchSTORE", b"d", b"Sicily", b"FROMMEMBER", b"Palermo", b"ASC", b"DESC"],
        [b"GEOSEARCHSTORE", b"d", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200",
         b"km", b"WITHDIST"],
        [b"GEOSEARCHSTORE", b"d", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200",
         b"km", b"STORE", b"x"],
        [b"GEODIST", b"Sicily", b"Palermo", b"Catania", b"km", b"x"],
        [b"GEODIST", b"Sicily", b"Palermo", b"Catania", b"yards"],
    ],
    "missing keys": [
        [b"SET", b"d", b"old"],
        [b"GEOPOS", b"nokey", b"a", b"b"],
        [b"GEOHASH", b"nokey", b"a"],
        [b"GEODIST", b"nokey", b"a", b"b"],
        [b"GEODIST", b"nokey", b"a", b"b", b"furlong"],
        [b"GEORADIUS", b"nokey", b"15", b"37", b"200", b"km"],
        [b"GEORADIUS", b"nokey", b"15", b"37", b"x", b"km"],
        [b"GEORADIUSBYMEMBER", b"nokey", b"m", b"x", b"km"],
        [b"GEORADIUSBYMEMBER", b"nokey", b"m", b"x", b"km", b"COUNT", b"0"],
        [b"GEOSEARCH", b"nokey", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"km"],
        [b"GEOSEARCH", b"nokey", b"FROMMEMBER", b"m", b"BYRADIUS", b"x", b"km"],
        [b"GEOSEARCH", b"nokey", b"FROMMEMBER", b"m", b"ASC", b"COUNT", b"3"],
        [b"GEORADIUSBYMEMBER", b"nokey", b"m", b"1", b"km", b"STORE", b"d"],
        [b"EXISTS", b"d"],
        [b"SET", b"d", b"old"],
        [b"GEOSEARCHSTORE", b"d", b"nokey", b"FROMMEMBER", b"m", b"BYBOX", b"1", b"1", b"km"],
        [b"EXISTS", b"d"],
    ],
    "stores": [
        SICILY,
        [b"SET", b"str", b"x"],
        [b"GEOSEARCHSTORE", b"str", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"200",
         b"km", b"STOREDIST"],
        [b"ZRANGE", b"str", b"0", b"-1", b"WITHSCORES"],
        [b"GEOSEARCHSTORE", b"Sicily2", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYRADIUS",
         b"200", b"km", b"COUNT", b"1", b"DESC"],
        [b"ZRANGE", b"Sicily2", b"0", b"-1", b"WITHSCORES"],
        [b"GEOSEARCHSTORE", b"Sicily2", b"Sicily", b"FROMLONLAT", b"0", b"0", b"BYRADIUS", b"1",
         b"m"],
        [b"EXISTS", b"Sicily2"],
        [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"mi", b"STORE", b"a", b"STOREDIST",
         b"b"],
        [b"EXISTS", b"a"],
        [b"ZRANGE", b"b", b"0", b"-1", b"WITHSCORES"],
        [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"STOREDIST", b"a", b"STORE",
         b"a"],
        [b"ZRANGE", b"a", b"0", b"-1", b"WITHSCORES"],
        [b"GEORADIUSBYMEMBER", b"Sicily", b"Palermo", b"200", b"ft", b"STORE", b"Sicily"],
        [b"ZRANGE", b"Sicily", b"0", b"-1", b"WITHSCORES"],
    ],
}


@pytest.mark.parametrize("requests", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_get_redis_replies_and_stored_scores(
    diff: Differential, requests: list[list[bytes]]
) -> None:
    for step, args in enumerate(requests):
        check(diff, *args, context=f"[step {step}]")


@pytest.mark.parametrize("value_type", [ValueType.LIST, ValueType.SET, ValueType.HASH])
def test_keys_of_other_types_get_redis_wrongtype_after_geoadd_argument_errors(
    diff: Differential, value_type: ValueType
) -> None:
    diff.put_non_string(b"k", value_type)
    check(diff, *SICILY)
    for args in (
        [b"GEOADD", b"k", b"1", b"2", b"m"],
        [b"GEOADD", b"k", b"1", b"200", b"m"],  # the coordinates are checked first
        [b"GEOPOS", b"k", b"a"],
        [b"GEOHASH", b"k", b"a"],
        [b"GEODIST", b"k", b"a", b"b"],
        [b"GEODIST", b"k", b"a", b"b", b"bad"],  # the unit is checked first
        [b"GEORADIUS", b"k", b"x", b"y", b"z", b"w"],  # the type is checked first
        [b"GEORADIUS_RO", b"k", b"15", b"37", b"1", b"km"],
        [b"GEORADIUSBYMEMBER", b"k", b"m", b"1", b"km", b"STORE", b"Sicily"],
        [b"GEORADIUSBYMEMBER_RO", b"k", b"m", b"1", b"km"],
        [b"GEOSEARCH", b"k", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"km"],
        [b"GEOSEARCHSTORE", b"Sicily", b"k", b"BYRADIUS", b"1", b"km", b"STOREDIST"],
        [b"GEOSEARCHSTORE", b"k", b"Sicily", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"1",
         b"km"],  # a destination of another type is replaced
        [b"TYPE", b"k"],
        [b"ZRANGE", b"k", b"0", b"-1", b"WITHSCORES"],
        [b"ZRANGE", b"Sicily", b"0", b"-1", b"WITHSCORES"],
    ):
        check(diff, *args)


def test_geoadd_keeps_the_ttl_and_a_store_drops_its_destination_ttl(diff: Differential) -> None:
    check(diff, *SICILY)
    check(diff, b"SET", b"d", b"x")
    for key in (b"Sicily", b"d"):
        check(diff, b"PEXPIRE", key, b"100000")
    check(diff, b"GEOADD", b"Sicily", b"13", b"38", b"Other")
    check(diff, b"GEOSEARCHSTORE", b"d", b"Sicily", b"FROMMEMBER", b"Other", b"BYRADIUS",
          b"100", b"km")  # fmt: skip
    for key in (b"Sicily", b"d"):
        diff.check_ttl(b"PTTL", key, tolerance=PTTL_TOLERANCE_MS)


def test_geo_commands_in_a_transaction_match_redis(diff: Differential) -> None:
    diff.check_exec(
        [
            SICILY,
            [b"GEOADD", b"Sicily", b"1", b"100", b"bad"],
            [b"GEOSEARCH", b"Sicily", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"200", b"km",
             b"WITHDIST"],
            [b"GEOSEARCHSTORE", b"d", b"Sicily", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"400",
             b"400", b"km", b"STOREDIST"],
            [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"COUNT", b"0"],
            [b"GEODIST", b"Sicily", b"Palermo", b"Catania", b"yd"],
            [b"GEOHASH", b"d", b"Palermo"],
            [b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES"],
        ]
    )


@pytest.mark.parametrize(
    "command",
    [
        [b"georadius", b"k", b"1", b"2", b"3", b"km"],
        [b"georadius", b"k", b"1", b"2", b"3", b"km", b"STORE", b"a"],
        [b"georadius", b"k", b"1", b"2", b"3", b"km", b"storedist", b"a", b"store", b"b"],
        [b"georadius", b"k", b"1", b"2", b"3", b"km", b"STORE", b"a", b"STORE", b"b"],
        [b"georadius", b"k", b"1", b"2", b"3", b"km", b"COUNT", b"2", b"STORE"],
        [b"georadius", b"k", b"1", b"2", b"3", b"STORE", b"a"],
        [b"georadiusbymember", b"k", b"STORE", b"3", b"km", b"STOREDIST", b"STORE"],
        [b"georadius_ro", b"k", b"1", b"2", b"3", b"km", b"STORE", b"a"],
        [b"geosearchstore", b"d", b"k", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"km"],
    ],
    ids=repr,
)
def test_command_getkeys_finds_the_keys_redis_finds(
    diff: Differential, command: list[bytes]
) -> None:
    """The keys COMMAND GETKEYS lists are the key specs' (EPaxos's interference)."""
    diff.check(b"COMMAND", b"GETKEYS", *command)
    diff.check(b"COMMAND", b"GETKEYSANDFLAGS", *command)


def test_resp3_coordinates_are_doubles_as_in_redis(redis_server: RedisServer) -> None:
    conn = redis_server.connect(3)
    try:
        diff = Differential(conn, 3)
        diff.check(*SICILY)
        reply = diff.check(b"GEOPOS", b"Sicily", b"Palermo", b"nope")
        assert reply == b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    finally:
        conn.close()


def test_a_store_its_key_specs_do_not_name_is_refused_where_redis_stores(
    diff: Differential,
) -> None:
    """The other known difference, pinned: the destination after a second STORE is not
    among the keys Redis's key specs (and EPaxos) see, so it is not written here."""
    check(diff, *SICILY)
    args = [b"GEORADIUS", b"Sicily", b"15", b"37", b"200", b"km", b"STORE", b"a", b"STORE", b"b"]
    theirs, ours = diff.both(*args)
    assert theirs == b":2\r\n"
    assert ours == b"-" + UNDECLARED_DESTINATION.text.encode() + b"\r\n"


def test_large_geo_sets_match_redis(resp2: Differential) -> None:
    """Past 128 members Redis keeps a skiplist instead of a listpack: the same walks."""
    rng = random.Random(11)
    points = [b"GEOADD", b"big"]
    for i in range(2000):
        points += [b"%.6f" % rng.uniform(-180, 180), b"%.6f" % rng.uniform(-85, 85), b"b%d" % i]
    check(resp2, *points)
    for step in range(80):
        center = [b"%.4f" % rng.uniform(-180, 180), b"%.4f" % rng.uniform(-85, 85)]
        size = rng.choice([100.0, 1000.0, 3000.0, 8000.0]) * rng.random()
        extra = rng.choice([[], [b"ASC"], [b"DESC"], [b"COUNT", b"7"], [b"COUNT", b"50", b"DESC"],
                            [b"COUNT", b"3", b"ANY"]])  # fmt: skip
        height = size * rng.uniform(0.2, 2)
        by = ([b"BYRADIUS", b"%.1f" % size, b"km"] if step % 2 else
              [b"BYBOX", b"%.1f" % size, b"%.1f" % height, b"km"])  # fmt: skip
        check(resp2, b"GEOSEARCH", b"big", b"FROMLONLAT", *center, *by, *extra, b"WITHDIST",
              context=f"[step {step}]")  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_random_geo_sequences_match_redis(resp2: Differential, seed: int) -> None:
    generator = GeoGenerator(seed)
    searches = stored = 0
    for step in range(STEPS):
        args = generator.request()
        reply = check(resp2, *args, context=f"[seed {seed} step {step}]")
        searches += args[0].startswith((b"GEOSEARCH", b"GEORADIUS")) and reply.startswith(b"*")
        stored += args[0] == b"ZRANGE" and len(reply) > 10
    # The sequence did search and store (seeds 1-3000: at least 48 and 11 of 600 steps).
    assert searches > STEPS // 20 and stored > STEPS // 100


def test_a_random_geo_sequence_matches_redis_under_resp3(redis_server: RedisServer) -> None:
    conn = redis_server.connect(3)
    try:
        diff = Differential(conn, 3)
        generator = GeoGenerator(seed=SEEDS[0] + 100)
        for step in range(STEPS // 2):
            check(diff, *generator.request(), context=f"[step {step}]")
    finally:
        conn.close()
