"""Geospatial commands (Redis's geo.c, geohash.c, geohash_helper.c): GEOADD, GEOPOS,
GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the
``_RO`` forms.

A geo set is an ordinary sorted set (``zsets``) whose scores are 52-bit geohashes,
exactly Redis's: longitude and latitude are each cut into 2**26 steps over
[-180, 180] and [-85.05112878, 85.05112878] (the Web Mercator limits), and the two
step numbers are interleaved, latitude on the even bits. So ZRANGE WITHSCORES, ZSCORE
and GEOPOS of a geo set agree with redis-server's byte for byte, and a set built with
ZADD is as good a geo set as one built with GEOADD. GEOADD is ZADD with those scores
(Redis rewrites it into a ZADD call; ``cmd_geoadd`` hands it to ``zsets.cmd_zadd``).

A search does what Redis does, step by step, because its answers depend on it:

* it picks a geohash precision from the radius (``_estimate_steps``), takes the cell of
  the centre and its eight neighbours at that precision (one step coarser when a
  neighbour does not reach the edge of the shape's bounding box), drops neighbours that
  lie wholly outside the box, and reads each remaining cell as a range of scores;
* candidates are filtered by haversine distance on a sphere of radius 6372797.560856 m
  (BYRADIUS) or by their north-south and east-west distances (BYBOX), in the order the
  cells were read; ``COUNT n ANY`` stops after ``n`` matches in that order;
* sorting by distance uses glibc's ``qsort`` (a stable merge sort) when every match is
  returned, and Redis's ``pqsort`` (a partial quicksort, not stable) when COUNT cuts the
  list: among members at the same distance, which ones a COUNT keeps is pqsort's choice,
  so it is reproduced rather than replaced by Python's sort.

Every number goes through the same IEEE double operations, in the same order, as
Redis's C (Python's ``math`` calls the same libm), so distances and coordinates print
the same digits: distances with ``%.4f``, coordinates with ``%.17Lf`` of the exact double
with trailing zeros trimmed. The haversine is 7.0.15's, which since 7.0.8 measures two
points on one meridian along it (``distance``): STOREDIST stores every bit of it.
Scores that are not geohashes (a ZADD of -1 or 1.5) are decoded as Redis's
``(uint64_t)`` cast decodes them on x86-64 (``_to_uint64``).

Redis checks the key's type before any argument of a search, and decodes a FROMMEMBER
member while it parses the options, so nothing but the arity can be refused before
the key is read: the search commands have no ``prepare`` check, only GEOADD and GEODIST,
whose argument errors come first in Redis too. GEOSEARCH names itself in two errors
as the client spelled it, so its op keeps the client's spelling (every reader of ops
looks names up in any case).

Where we differ, on purpose:

* GEORADIUS and GEORADIUSBYMEMBER find their destination after the first ``STORE`` and
  the first ``STOREDIST`` (Redis's key specs, which COMMAND INFO shows and EPaxos orders
  by), while their parser lets a later ``STORE`` win. A call whose destination is not
  one its key specs name (``STORE a STORE b``) would write a key no other replica knew
  it interfered with: it is refused (``UNDECLARED_DESTINATION``) where Redis would store.
  It is refused when executed, at the point Redis would write, so every error Redis
  gives before that is given here too; and a script cannot get past it, since the
  keys a script's call may touch are checked with the same specs.
* A STOREDIST whose distance is NaN (two points so nearly antipodal that the
  haversine's rounding takes ``sqrt`` past 1; no pair of stored points among 1.5
  million antipodal cells does) makes Redis abort on an assertion; it is refused with
  ``zsets.NAN_SCORE`` instead: a stored NaN would not decode.
* Under RESP3 coordinates are bulk strings of Redis's digits, where Redis sends RESP3
  doubles: ``protocol`` has no reply type for a double with digits of its own.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from protocol.replies import NULL_ARRAY, Error, HumanDouble, Reply
from storage.interface import KeyValueView

from . import errors
from .integers import parse_ll
from .pqsort import partial_quicksort
from .spec import KeySpec, preparing
from .zsets import NAN_SCORE, ZSETS, Scores, cmd_zadd, kept_scores, ordered_shared, parse_score

LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
"""Redis's ``GEO_LAT_MIN``/``GEO_LAT_MAX``: Web Mercator cannot reach the poles."""
STEP_MAX = 26
"""Bits per coordinate in a stored score: 2 * 26 = 52, what a double holds exactly."""
EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
_DEG_TO_RAD = math.pi / 180.0
"""``D_R``: degrees are converted by multiplying with it, back by dividing by it."""
_MASK64 = (1 << 64) - 1
_EVEN_BITS = 0x5555555555555555
_ODD_BITS = 0xAAAAAAAAAAAAAAAA
_TWO_63 = 2.0**63
_NAN = -math.nan
"""The NaN glibc returns on x86-64 for ``asin`` of more than 1 or ``cos`` of infinity (the
default NaN of an invalid SSE operation): the sign bit set, which ``%f`` prints ``-nan``."""

UNITS: dict[bytes, float] = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
"""Meters per unit (``extractUnitOrReply``)."""

UNSUPPORTED_UNIT = Error("ERR unsupported unit provided. please use M, KM, FT, MI")
NEED_RADIUS = Error("ERR need numeric radius")
RADIUS_NEGATIVE = Error("ERR radius cannot be negative")
NEED_WIDTH = Error("ERR need numeric width")
NEED_HEIGHT = Error("ERR need numeric height")
BOX_NEGATIVE = Error("ERR height or width cannot be negative")
COUNT_NOT_POSITIVE = Error("ERR COUNT must be > 0")
ANY_NEEDS_COUNT = Error("ERR the ANY argument requires COUNT argument")
NOT_DECODABLE = Error("ERR could not decode requested zset member")
STORE_WITH_OPTIONS = Error(
    "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD "
    "options"
)
SEARCHSTORE_WITH_OPTIONS = Error(
    "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
)
UNDECLARED_DESTINATION = Error(
    "ERR STORE/STOREDIST destination is not the key after the first STORE or STOREDIST "
    "(epaxosdb orders a command by the keys its key specs name, so it may write only those)"
)


def invalid_pair(longitude: float, latitude: float) -> Error:
    """``invalid longitude,latitude pair %f,%f``, with C's ``%f`` (Python's is the same)."""
    return Error(f"ERR invalid longitude,latitude pair {longitude:f},{latitude:f}")


# --- geohash (geohash.c) -------------------------------------------------------------


def _spread(value: int) -> int:
    """The 32 low bits of ``value`` moved to the even bit positions of 64 bits."""
    value &= 0xFFFFFFFF
    value = (value | (value << 16)) & 0x0000FFFF0000FFFF
    value = (value | (value << 8)) & 0x00FF00FF00FF00FF
    value = (value | (value << 4)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value << 2)) & 0x3333333333333333
    return (value | (value << 1)) & _EVEN_BITS


def _squash(value: int) -> int:
    """The even bits of 64-bit ``value`` gathered into 32 bits: ``_spread`` undone."""
    value &= _EVEN_BITS
    value = (value | (value >> 1)) & 0x3333333333333333
    value = (value | (value >> 2)) & 0x0F0F0F0F0F0F0F0F
    value = (value | (value >> 4)) & 0x00FF00FF00FF00FF
    value = (value | (value >> 8)) & 0x0000FFFF0000FFFF
    return (value | (value >> 16)) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Ranges:
    """The coordinate ranges a geohash divides: Redis's own (``WGS84``) for scores, the
    standard ones (latitude ±90) for GEOHASH's strings."""

    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


WGS84 = Ranges(LONG_MIN, LONG_MAX, LAT_MIN, LAT_MAX)
STANDARD = Ranges(-180.0, 180.0, -90.0, 90.0)


def encode(longitude: float, latitude: float, step: int, ranges: Ranges = WGS84) -> int:
    """``geohashEncode``: the ``2 * step`` interleaved bits of the cell holding the point
    (latitude on the even bits). Callers check the point is inside ``ranges``; a point on
    the upper edge counts 2**step steps, one bit past the hash, as in Redis (GEOADD of
    latitude 85.05112878 stores a score of 2**52 or more)."""
    lat_offset = (latitude - ranges.lat_min) / (ranges.lat_max - ranges.lat_min)
    long_offset = (longitude - ranges.long_min) / (ranges.long_max - ranges.long_min)
    lat_offset *= float(1 << step)
    long_offset *= float(1 << step)
    return _spread(int(lat_offset)) | (_spread(int(long_offset)) << 1)


def score_of(longitude: float, latitude: float) -> int:
    """The score GEOADD stores for a point (``geohashAlign52Bits`` of a step-26 hash)."""
    return encode(longitude, latitude, STEP_MAX)


@dataclass(frozen=True, slots=True)
class Area:
    """The bounds of one geohash cell (``GeoHashArea``)."""

    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int, ranges: Ranges = WGS84) -> Area:
    """``geohashDecode``: the cell of a hash. Bits above ``2 * step`` are not ignored (a
    score that is no geohash decodes outside the ranges, ``position_of`` clamps), and
    ``+ 1`` wraps at 32 bits, as the C's ``uint32_t`` arithmetic does."""
    lat_cells, long_cells = _squash(bits), _squash(bits >> 1)
    cells = float(1 << step)
    lat_scale = ranges.lat_max - ranges.lat_min
    long_scale = ranges.long_max - ranges.long_min
    return Area(
        ranges.long_min + (long_cells / cells) * long_scale,
        ranges.long_min + (((long_cells + 1) & 0xFFFFFFFF) / cells) * long_scale,
        ranges.lat_min + (lat_cells / cells) * lat_scale,
        ranges.lat_min + (((lat_cells + 1) & 0xFFFFFFFF) / cells) * lat_scale,
    )


def _cvttsd2si(value: float) -> int:
    """x86-64's double to int64 conversion: truncation, or ``INT64_MIN`` out of range."""
    if math.isnan(value) or not -_TWO_63 <= value < _TWO_63:
        return -(1 << 63)
    return int(value)


def _to_uint64(score: float) -> int:
    """``(uint64_t)score`` as GCC compiles it for x86-64 (Redis's ``decodeGeohash``): one
    signed conversion below 2**63 (so -1 is all ones), else a conversion of ``score -
    2**63`` with bit 63 flipped (so 2**64 and infinity give 0)."""
    if not score >= _TWO_63:
        return _cvttsd2si(score) & _MASK64
    return (_cvttsd2si(score - _TWO_63) ^ (1 << 63)) & _MASK64


def position_of(score: float) -> tuple[float, float]:
    """``decodeGeohash``: the centre of a score's cell as ``(longitude, latitude)``,
    clamped to Redis's limits. Any score decodes (the C never fails for a step of 26)."""
    area = decode(_to_uint64(score), STEP_MAX)
    longitude = (area.long_min + area.long_max) / 2
    latitude = (area.lat_min + area.lat_max) / 2
    longitude = min(max(longitude, LONG_MIN), LONG_MAX)
    latitude = min(max(latitude, LAT_MIN), LAT_MAX)
    return longitude, latitude


_GEOHASH_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """GEOHASH's 11 characters: the decoded point encoded again over the standard ranges
    (latitude ±90), 26 steps, five bits a character; the 11th is always ``0`` (52 bits
    fill ten characters and two bits)."""
    longitude, latitude = position_of(score)
    bits = encode(longitude, latitude, STEP_MAX, STANDARD)
    chars = bytes(_GEOHASH_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10))
    return chars + b"0"


def _move(bits: int, step: int, east: int, north: int) -> int:
    """``geohash_move_x`` then ``geohash_move_y``: the neighbouring cell ``east`` (-1, 0,
    1) and ``north`` of a hash, wrapping around at the edges of the ranges (east of
    longitude 180 is -180, north of the top row is the bottom row)."""
    width = 64 - step * 2
    if east:
        x, y = bits & _ODD_BITS, bits & _EVEN_BITS
        fill = _EVEN_BITS >> width
        x = x + (fill + 1) if east > 0 else (x | fill) - (fill + 1)
        bits = (x & (_ODD_BITS >> width)) | y
    if north:
        x, y = bits & _ODD_BITS, bits & _EVEN_BITS
        fill = _ODD_BITS >> width
        y = y + (fill + 1) if north > 0 else (y | fill) - (fill + 1)
        bits = x | (y & (_EVEN_BITS >> width))
    return bits & _MASK64


_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))
"""(east, north) of the eight neighbours in ``membersOfAllNeighbors``'s order: north,
south, east, west, north-east, north-west, south-east, south-west."""


# --- distances (geohash_helper.c) ------------------------------------------------------


def _cos(x: float) -> float:
    """libm's ``cos``: NaN for an infinite angle (an infinite radius), where Python raises."""
    return math.cos(x) if math.isfinite(x) else _NAN


def _asin(x: float) -> float:
    """libm's ``asin``: NaN past 1 (the haversine's rounding), where Python raises."""
    return math.asin(x) if -1.0 <= x <= 1.0 else _NAN


def _divide(a: float, b: float) -> float:
    """``a / b`` as C divides (Python raises for a zero divisor; ``cos`` of a double is
    never exactly 0, but the bounding box must not depend on that)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return _NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def lat_distance(lat1: float, lat2: float) -> float:
    """``geohashGetLatDistance``: the distance along a meridian."""
    return EARTH_RADIUS_M * abs(lat2 * _DEG_TO_RAD - lat1 * _DEG_TO_RAD)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """``geohashGetDistance``: the haversine, operations in the C's order. Points on one
    meridian take the shortcut Redis 7.0.8 added (``lat_distance``), which differs from
    the haversine in the last bits: STOREDIST stores them, so both must be Redis's."""
    lon1r = lon1 * _DEG_TO_RAD
    lon2r = lon2 * _DEG_TO_RAD
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _DEG_TO_RAD
    lat2r = lat2 * _DEG_TO_RAD
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_M * _asin(math.sqrt(a))


def _estimate_steps(radius_m: float, latitude: float) -> int:
    """``geohashEstimateStepsByRadius``: the precision whose cells are about as large as
    the radius (coarser near the poles, where cells are narrower)."""
    if radius_m == 0:
        return STEP_MAX
    step = 1
    while radius_m < MERCATOR_MAX:
        radius_m *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), STEP_MAX)


@dataclass(frozen=True, slots=True)
class Shape:
    """A search area (``GeoShape``): a circle (``height`` and ``width`` unused) or a box,
    its sizes in ``unit``s of ``conversion`` meters."""

    longitude: float
    latitude: float
    box: bool
    radius: float
    width: float
    height: float
    conversion: float

    def bounds(self) -> tuple[float, float, float, float]:
        """``geohashBoundingBox``: min longitude, min latitude, max longitude, max
        latitude. The east-west extent is taken at the edge nearer the pole (the
        southern one south of the equator)."""
        half_height = self.height / 2 if self.box else self.radius
        half_width = self.width / 2 if self.box else self.radius
        height = self.conversion * half_height
        width = self.conversion * half_width
        lat_delta = (height / EARTH_RADIUS_M) / _DEG_TO_RAD
        top = _divide(width / EARTH_RADIUS_M, _cos((self.latitude + lat_delta) * _DEG_TO_RAD))
        bottom = _divide(width / EARTH_RADIUS_M, _cos((self.latitude - lat_delta) * _DEG_TO_RAD))
        long_delta = (bottom if self.latitude < 0 else top) / _DEG_TO_RAD
        return (
            self.longitude - long_delta,
            self.latitude - lat_delta,
            self.longitude + long_delta,
            self.latitude + lat_delta,
        )

    def radius_m(self) -> float:
        """The radius the precision is estimated from; a box's is its half-diagonal."""
        if not self.box:
            return self.radius * self.conversion
        half_width, half_height = self.width / 2, self.height / 2
        return math.sqrt(half_width * half_width + half_height * half_height) * self.conversion

    def distance_if_inside(self, longitude: float, latitude: float) -> float | None:
        """The distance of a point from the centre if it is inside the shape, else
        ``None`` (``geohashGetDistanceIfInRadiusWGS84``, ``...IfInRectangle``). A NaN
        distance is inside a circle: the C only excludes what compares greater."""
        x1, y1 = self.longitude, self.latitude
        if not self.box:
            found = distance(x1, y1, longitude, latitude)
            return None if found > self.radius * self.conversion else found
        if lat_distance(latitude, y1) > self.height * self.conversion / 2:
            return None
        if distance(longitude, latitude, x1, latitude) > self.width * self.conversion / 2:
            return None
        return distance(x1, y1, longitude, latitude)


Cell = tuple[int, int]
"""A geohash cell: (bits, step)."""


def search_cells(shape: Shape) -> list[Cell | None]:
    """``geohashCalculateAreasByShapeWGS84``: the centre's cell and its eight neighbours
    (``None`` for one excluded), in the order they are searched."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds()
    longitude, latitude = shape.longitude, shape.latitude
    steps = _estimate_steps(shape.radius_m(), latitude)
    bits = encode(longitude, latitude, steps)
    near = [_move(bits, steps, east, north) for east, north in _NEIGHBOURS]
    north, south, east, west = (decode(n, steps) for n in near[:4])
    too_fine = (
        north.lat_max < max_lat
        or south.lat_min > min_lat
        or east.long_max < max_lon
        or west.long_min > min_lon
    )
    if steps > 1 and too_fine:
        steps -= 1
        bits = encode(longitude, latitude, steps)
        near = [_move(bits, steps, east, north) for east, north in _NEIGHBOURS]
    cells: list[Cell | None] = [(bits, steps), *((n, steps) for n in near)]
    if steps >= 2:
        area = decode(bits, steps)
        excluded = set()
        if area.lat_min < min_lat:
            excluded |= {2, 7, 8}  # south, south-east, south-west
        if area.lat_max > max_lat:
            excluded |= {1, 5, 6}  # north, north-east, north-west
        if area.long_min < min_lon:
            excluded |= {4, 6, 8}  # west, north-west, south-west
        if area.long_max > max_lon:
            excluded |= {3, 5, 7}  # east, north-east, south-east
        cells = [None if i in excluded else cell for i, cell in enumerate(cells)]
    return cells


# --- collecting and sorting matches ---------------------------------------------------

Point = tuple[float, bytes, float, float, float]
"""A match (``geoPoint``): distance in meters, member, score, longitude, latitude."""


def _score_of_entry(entry: tuple[bytes, float]) -> float:
    return entry[1]


def members_in_shape(
    entries: Sequence[tuple[bytes, float]], shape: Shape, limit: int = 0
) -> list[Point]:
    """``membersOfAllNeighbors``: the members inside the shape, cell by cell, each cell's
    in score order (its scores are the range [first, next cell's first)); a cell equal
    to the one searched just before it is skipped (large radii), the centre's is never
    compared. With a ``limit`` (COUNT n ANY) it stops at ``limit`` matches."""
    found: list[Point] = []
    cells = search_cells(shape)
    last = 0
    for index, cell in enumerate(cells):
        if cell is None:
            continue
        if last and cell == cells[last]:
            continue
        if found and limit and len(found) >= limit:
            break
        bits, step = cell
        shift = 52 - step * 2
        low, high = float(bits << shift), float((bits + 1) << shift)
        at = bisect_left(entries, low, key=_score_of_entry)
        while at < len(entries) and entries[at][1] < high:
            member, score = entries[at]
            longitude, latitude = position_of(score)
            away = shape.distance_if_inside(longitude, latitude)
            if away is not None:
                found.append((away, member, score, longitude, latitude))
            if found and limit and len(found) >= limit:
                break
            at += 1
        last = index
    return found


Compare = Callable[[Point, Point], int]


def _ascending(a: Point, b: Point) -> int:
    """``sort_gp_asc``: NaN is "smaller" than anything, and anything than NaN."""
    if a[0] > b[0]:
        return 1
    if a[0] == b[0]:
        return 0
    return -1


def _descending(a: Point, b: Point) -> int:
    return -_ascending(a, b)


def _merge_sort(points: list[Point], compare: Compare) -> list[Point]:
    """glibc's ``msort``: halves (the first one the smaller), merged taking from the
    left while it compares less or equal. Only needed when a distance is NaN, where
    the comparison is no order and the result depends on the algorithm."""
    if len(points) <= 1:
        return points
    half = len(points) // 2
    left, right = _merge_sort(points[:half], compare), _merge_sort(points[half:], compare)
    out: list[Point] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if compare(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def sort_all(points: list[Point], descending: bool) -> list[Point]:
    """``qsort`` of every match: glibc's merge sort is stable, so Python's stable sort
    (``reverse`` keeps ties in order too) gives the same list when distances are
    numbers."""
    if any(math.isnan(point[0]) for point in points):
        return _merge_sort(points, _descending if descending else _ascending)
    return sorted(points, key=lambda point: point[0], reverse=descending)


def partial_sort(a: list[Point], compare: Compare, last: int) -> None:
    """Redis's ``pqsort(a, n, compare, 0, last)`` (``pqsort``): ``a[0..last]`` comes out
    sorted, with ties as Redis leaves them."""
    partial_quicksort(a, compare, 0, last)


# --- replies ----------------------------------------------------------------------------


def format_distance(value: float) -> bytes:
    """``addReplyDoubleDistance``: ``%.4f``, as glibc prints it (``-nan`` for x86's NaN)."""
    if math.isnan(value):
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return b"%.4f" % value


def format_coordinate(value: float) -> bytes:
    """``addReplyHumanLongDouble``: ``%.17Lf`` of the exact double (Python rounds its
    exact value as glibc does), trailing zeros and a bare point removed, ``-0`` as ``0``
    (a bulk string in RESP2, a double in RESP3: ``_coordinates``)."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").removesuffix(b".")
    return b"0" if text == b"-0" else text


def _coordinates(longitude: float, latitude: float) -> list[Reply]:
    return [HumanDouble(format_coordinate(longitude)), HumanDouble(format_coordinate(latitude))]


# --- GEOADD, GEOPOS, GEOHASH, GEODIST ---------------------------------------------------


def parse_coordinates(raw_longitude: bytes, raw_latitude: bytes) -> tuple[float, float] | Error:
    """``extractLongLatOrReply``: two floats (``string2d``) within Redis's limits."""
    longitude = parse_score(raw_longitude)
    if longitude is None:
        return errors.NOT_FLOAT
    latitude = parse_score(raw_latitude)
    if latitude is None:
        return errors.NOT_FLOAT
    if not (LONG_MIN <= longitude <= LONG_MAX and LAT_MIN <= latitude <= LAT_MAX):
        return invalid_pair(longitude, latitude)
    return longitude, latitude


def _zadd_call(args: Sequence[bytes]) -> tuple[bytes, ...] | Error:
    """``geoaddCommand``: the options (NX, XX, CH, in any order and number), triples,
    coordinates — all checked before the key is read — then the ZADD call Redis makes
    of it: ``ZADD key [options] score member ...`` with each point's score."""
    index, nx, xx = 2, False, False
    while index < len(args):
        option = errors.c_string(args[index]).lower()
        if option not in (b"nx", b"xx", b"ch"):
            break
        nx, xx = nx or option == b"nx", xx or option == b"xx"
        index += 1
    if (len(args) - index) % 3 or (nx and xx):
        return errors.SYNTAX
    pairs: list[bytes] = []
    for at in range(index, len(args), 3):
        point = parse_coordinates(args[at], args[at + 1])
        if isinstance(point, Error):
            return point
        pairs += [b"%d" % score_of(*point), args[at + 2]]
    return (b"ZADD", args[1], *args[2:index], *pairs)


prepare_geoadd = preparing(_zadd_call)


def cmd_geoadd(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """GEOADD: ZADD of the points' scores (WRONGTYPE, NX/XX/CH and the reply are ZADD's;
    no triple at all is ZADD's syntax error)."""
    call = _zadd_call(args)
    return call if isinstance(call, Error) else cmd_zadd(kv, call, now_ms, seed)


def _position_reply(scores: Scores, member: bytes) -> Reply:
    score = scores.get(member)
    if score is None:
        return NULL_ARRAY
    return _coordinates(*position_of(score))


cmd_geopos = ZSETS.reading(
    lambda scores, args: [_position_reply(scores, member) for member in args[2:]]
)
"""GEOPOS: ``[longitude, latitude]`` per member, the null array for one that is missing."""


def _geohash_reply(scores: Scores, member: bytes) -> Reply:
    score = scores.get(member)
    return None if score is None else geohash_string(score)


cmd_geohash = ZSETS.reading(
    lambda scores, args: [_geohash_reply(scores, member) for member in args[2:]]
)
"""GEOHASH: an 11-character string per member, nil for one that is missing."""


def _geodist_unit(args: Sequence[bytes]) -> float | Error:
    """GEODIST's unit (meters without one); a fifth argument is a syntax error. Both are
    checked before the key is read."""
    if len(args) > 5:
        return errors.SYNTAX
    if len(args) == 5:
        return UNITS.get(errors.c_string(args[4]).lower(), UNSUPPORTED_UNIT)
    return 1.0


prepare_geodist = preparing(_geodist_unit)


def cmd_geodist(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """GEODIST: nil for a missing key or member, else the distance in the unit."""
    unit = _geodist_unit(args)
    if isinstance(unit, Error):
        return unit
    scores = ZSETS.load_shared(kv, args[1], now_ms)
    if isinstance(scores, Error):
        return scores
    first, second = scores.get(args[2]), scores.get(args[3])
    if first is None or second is None:
        return None
    return format_distance(distance(*position_of(first), *position_of(second)) / unit)


# --- the searches -----------------------------------------------------------------------


RADIUS_KEYS = (
    KeySpec(1, flags=("RO", "access")),
    KeySpec(6, keyword="STORE", flags=("OW", "update")),
    KeySpec(6, keyword="STOREDIST", flags=("OW", "update")),
)
"""GEORADIUS's key specs (Redis 7.0's): the source, and a destination after the first
``STORE`` or ``STOREDIST`` from the sixth argument on. They are its row's in the table,
and ``_declares`` holds a call to them."""
RADIUS_BYMEMBER_KEYS = (
    KeySpec(1, flags=("RO", "access")),
    KeySpec(5, keyword="STORE", flags=("OW", "update")),
    KeySpec(5, keyword="STOREDIST", flags=("OW", "update")),
)


@dataclass(frozen=True, slots=True)
class _Form:
    """What distinguishes the search commands (``georadiusGeneric``'s flags)."""

    source: int
    """Index of the key searched."""
    options: int
    """Index of the first option (``base_args``)."""
    center: str
    """``coords`` (GEORADIUS), ``member`` (GEORADIUSBYMEMBER) or ``options`` (GEOSEARCH:
    FROMMEMBER or FROMLONLAT, BYRADIUS or BYBOX among the options)."""
    store_options: bool
    """STORE and STOREDIST take a destination (GEORADIUS, GEORADIUSBYMEMBER)."""
    stores: bool
    """GEOSEARCHSTORE: the destination is argument 1, STOREDIST a flag."""
    key_specs: tuple[KeySpec, ...] = ()


_FORMS: dict[bytes, _Form] = {
    b"GEORADIUS": _Form(1, 6, "coords", True, False, RADIUS_KEYS),
    b"GEORADIUS_RO": _Form(1, 6, "coords", False, False),
    b"GEORADIUSBYMEMBER": _Form(1, 5, "member", True, False, RADIUS_BYMEMBER_KEYS),
    b"GEORADIUSBYMEMBER_RO": _Form(1, 5, "member", False, False),
    b"GEOSEARCH": _Form(1, 2, "options", False, False),
    b"GEOSEARCHSTORE": _Form(2, 3, "options", False, True),
}


@dataclass(slots=True)
class _Search:
    """One search request, as ``georadiusGeneric``'s option loop leaves it."""

    center: tuple[float, float] | None = None
    box: bool = False
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    conversion: float = 1.0
    with_dist: bool = False
    with_hash: bool = False
    with_coord: bool = False
    descending: bool | None = None
    count: int = 0
    any: bool = False
    destination: bytes | None = None
    store_dist: bool = False
    from_member: bool = False
    from_lonlat: bool = False
    by_radius: bool = False
    by_box: bool = False


def _radius(search: _Search, raw: bytes, raw_unit: bytes) -> Error | None:
    """``extractDistanceOrReply``: a radius of at least 0 and its unit."""
    radius = parse_score(raw)
    if radius is None:
        return NEED_RADIUS
    if radius < 0:
        return RADIUS_NEGATIVE
    unit = UNITS.get(errors.c_string(raw_unit).lower())
    if unit is None:
        return UNSUPPORTED_UNIT
    search.box, search.radius, search.conversion = False, radius, unit
    return None


def _box(search: _Search, raw_width: bytes, raw_height: bytes, raw_unit: bytes) -> Error | None:
    """``extractBoxOrReply``: width, height (neither negative) and their unit."""
    width = parse_score(raw_width)
    if width is None:
        return NEED_WIDTH
    height = parse_score(raw_height)
    if height is None:
        return NEED_HEIGHT
    if height < 0 or width < 0:
        return BOX_NEGATIVE
    unit = UNITS.get(errors.c_string(raw_unit).lower())
    if unit is None:
        return UNSUPPORTED_UNIT
    search.box, search.width, search.height, search.conversion = True, width, height, unit
    return None


def _member_center(scores: Scores, member: bytes) -> tuple[float, float] | Error:
    score = scores.get(member)
    return NOT_DECODABLE if score is None else position_of(score)


def _search_request(op: Sequence[bytes], form: _Form, scores: Scores | None) -> _Search | Error:
    """``georadiusGeneric`` from after the type check to the search: the centre and the
    shape, the options in Redis's loop (a later one overrides an earlier one), then the
    checks that follow it. ``scores`` is ``None`` for a missing key: a member is then not
    looked up (GEORADIUSBYMEMBER skips its radius too), as in Redis."""
    search = _Search(destination=op[1] if form.stores else None)
    problem: Error | None = None
    if form.center == "coords":
        center = parse_coordinates(op[2], op[3])
        if isinstance(center, Error):
            return center
        search.center = center
        problem = _radius(search, op[4], op[5])
    elif form.center == "member" and scores is not None:
        center = _member_center(scores, op[2])
        if isinstance(center, Error):
            return center
        search.center = center
        problem = _radius(search, op[3], op[4])
    if problem is not None:
        return problem
    searches = form.center == "options"
    i, argc = form.options, len(op)
    while i < argc:
        option = errors.c_string(op[i]).lower()
        more = argc - i - 1
        if option == b"withdist":
            search.with_dist = True
        elif option == b"withhash":
            search.with_hash = True
        elif option == b"withcoord":
            search.with_coord = True
        elif option == b"any":
            search.any = True
        elif option in (b"asc", b"desc"):
            search.descending = option == b"desc"
        elif option == b"count" and more >= 1:
            count = parse_ll(op[i + 1])
            if count is None:
                return errors.NOT_INTEGER
            if count <= 0:
                return COUNT_NOT_POSITIVE
            search.count = count
            i += 1
        elif option in (b"store", b"storedist") and more >= 1 and form.store_options:
            search.destination, search.store_dist = op[i + 1], option == b"storedist"
            i += 1
        elif option == b"storedist" and form.stores:
            search.store_dist = True
        elif option == b"frommember" and more >= 1 and searches and not search.from_lonlat:
            if scores is not None:
                center = _member_center(scores, op[i + 1])
                if isinstance(center, Error):
                    return center
                search.center = center
            search.from_member = True
            i += 1
        elif option == b"fromlonlat" and more >= 2 and searches and not search.from_member:
            center = parse_coordinates(op[i + 1], op[i + 2])
            if isinstance(center, Error):
                return center
            search.center, search.from_lonlat = center, True
            i += 2
        elif option == b"byradius" and more >= 2 and searches and not search.by_box:
            problem = _radius(search, op[i + 1], op[i + 2])
            if problem is not None:
                return problem
            search.by_radius = True
            i += 2
        elif option == b"bybox" and more >= 3 and searches and not search.by_radius:
            problem = _box(search, op[i + 1], op[i + 2], op[i + 3])
            if problem is not None:
                return problem
            search.by_box = True
            i += 3
        else:
            return errors.SYNTAX
        i += 1
    return _after_options(op, form, search)


def _after_options(op: Sequence[bytes], form: _Form, search: _Search) -> _Search | Error:
    """The checks Redis makes once the options are read, in its order; the FROM and BY
    ones name the command as the client spelled it."""
    if search.destination is not None and (
        search.with_dist or search.with_hash or search.with_coord
    ):
        return SEARCHSTORE_WITH_OPTIONS if form.stores else STORE_WITH_OPTIONS
    name = errors.text(errors.c_string(op[0]))
    if form.center == "options" and not (search.from_member or search.from_lonlat):
        return Error(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if form.center == "options" and not (search.by_radius or search.by_box):
        return Error(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if search.any and not search.count:
        return ANY_NEEDS_COUNT
    return search


def _declares(form: _Form, op: Sequence[bytes], destination: bytes) -> bool:
    """Whether the key specs name ``destination`` among the keys this call writes, as
    ``access`` finds them (a spec that cannot tell names every argument it could)."""
    for key_spec in form.key_specs[1:]:
        positions = key_spec.find(op)
        if positions is None:
            positions = key_spec.after_count(len(op))
        if any(op[i] == destination for i in positions):
            return True
    return False


def _matches(search: _Search, entries: Sequence[tuple[bytes, float]]) -> list[Point]:
    """The matches a search returns or stores, in the order it returns them."""
    assert search.center is not None
    shape = Shape(
        *search.center, search.box, search.radius, search.width, search.height,
        search.conversion,
    )  # fmt: skip
    points = members_in_shape(entries, shape, search.count if search.any else 0)
    descending = search.descending
    if search.count and descending is None and not search.any:
        descending = False  # COUNT returns the nearest, unless ANY says any will do
    returned = len(points) if not search.count else min(len(points), search.count)
    if descending is not None:
        if returned == len(points):
            points = sort_all(points, descending)
        else:
            partial_sort(points, _descending if descending else _ascending, returned - 1)
    return points[:returned]


def _match_reply(search: _Search, point: Point) -> Reply:
    away, member, score, longitude, latitude = point
    if not (search.with_dist or search.with_hash or search.with_coord):
        return member
    item: list[Reply] = [member]
    if search.with_dist:
        item.append(format_distance(away / search.conversion))
    if search.with_hash:
        item.append(int(score))
    if search.with_coord:
        item.append(_coordinates(longitude, latitude))
    return item


def prepare_geosearch(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """GEOSEARCH's and GEOSEARCHSTORE's op: the arguments as they came, the name in the
    client's spelling, which two of their errors quote (see the module docstring).
    Nothing can be checked before the key is read."""
    return tuple(args)


def cmd_search(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the ``_RO`` forms
    (``georadiusGeneric``): WRONGTYPE first, then the request's errors; a missing key
    answers an empty array (a store form deletes its destination and answers 0). A
    store replaces the destination (any type, TTL dropped) with the matches and their
    scores (geohashes, or distances in the unit with STOREDIST); no match deletes it."""
    form = _FORMS[op[0].upper()]
    scores = ZSETS.load_shared(kv, op[form.source], now_ms)
    if isinstance(scores, Error):
        return scores
    search = _search_request(op, form, scores or None)  # a sorted set is never empty
    if isinstance(search, Error):
        return search
    destination = search.destination
    if form.store_options and destination is not None and not _declares(form, op, destination):
        return UNDECLARED_DESTINATION
    if not scores:
        if destination is not None:
            kv.delete(destination)
            return 0
        return []
    points = _matches(search, ordered_shared(scores))
    if destination is None:
        return [_match_reply(search, point) for point in points]
    stored: Scores = {}
    for away, member, score, _, _ in points:
        value = away / search.conversion if search.store_dist else score
        if math.isnan(value):
            return NAN_SCORE
        stored[member] = value
    ZSETS.store(kv, destination, 0, kept_scores(stored))
    return len(points)

