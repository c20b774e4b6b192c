"""ACL users and rules (``epaxosdb.users``): what Redis 7.0.15 prints and allows.

The expected ``ACL LIST`` lines were read off redis-server 7.0.15 given the same
``ACL SETUSER`` rules (``tests/integration/test_acl_wire.py`` compares the two
servers live; these pin the rules without a server).
"""

from __future__ import annotations

import pytest

from epaxosdb import users
from epaxosdb.commands import resolve
from epaxosdb.runtime.acl import UserTable
from epaxosdb.users import READ, WRITE, RuleError
from protocol.replies import Error

ALICE_HASH = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"  # sha256("pw")


def user_with(*rules: str, name: bytes = b"u") -> users.User:
    user = users.new_user(name)
    user.apply([rule.encode() for rule in rules])
    return user


@pytest.mark.parametrize(
    ("rules", "line"),
    [
        (
            ("on", ">pw", "~app:*", "+@read", "+set"),
            f"user u on #{ALICE_HASH} ~app:* resetchannels -@all +@read +set",
        ),
        (
            (
                *("on", "nopass", "%R~r:*", "%W~w:*", "&ch*", "+@all", "-@dangerous"),
                *("+client|id", "-get", "+get"),
            ),
            "user u on nopass %R~r:* %W~w:* resetchannels &ch* +@all -@dangerous",
        ),
        (
            ("on", ">p1", ">p2", "<p1", "+@all", "-@all", "+set", "+@read", "-@read"),
            "user u on #3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693"
            " resetchannels -@all +set",
        ),
        (
            ("+client", "-client|kill", "resetkeys"),
            "user u off resetchannels -@all +client -client|kill",
        ),
        (("%RW~x",), "user u off ~x resetchannels -@all"),
        (("~a", "~a"), "user u off ~a resetchannels -@all"),
        (("allkeys", "allchannels", "allcommands", "on", "nopass"), "user u on nopass ~* &* +@all"),
        # As redis-server 7.0.15 lists it: reset sets sanitize-payload.
        (("on", "allcommands", "reset"), "user u off sanitize-payload resetchannels -@all"),
    ],
)
def test_acl_list_describes_a_user_as_redis_does(rules: tuple[str, ...], line: str) -> None:
    assert user_with(*rules).describe() == line


def test_the_default_user_may_do_everything_and_takes_requirepass() -> None:
    open_default = users.default_user("")
    assert open_default.describe() == "user default on nopass ~* &* +@all"
    assert open_default.unrestricted and open_default.password_matches(b"anything")
    guarded = users.default_user("pw")
    assert guarded.describe() == f"user default on #{ALICE_HASH} ~* &* +@all"
    assert guarded.password_matches(b"pw") and not guarded.password_matches(b"PW")


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("foo", "Syntax error"),
        ("+nosuch", "Unknown command or category name in ACL"),
        ("+@nosuch", "Unknown command or category name in ACL"),
        ("#abc", "The password hash must be exactly 64 characters and contain only lowercase"
                 " hexadecimal characters"),
        ("<nothere", "The password you are trying to remove from the user does not exist"),
        ("%X~x", "Syntax error"),
        ("(+get ~x)", "Selectors are not supported by epaxosdb"),
    ],
)  # fmt: skip
def test_a_bad_rule_names_redis_reason(rule: str, reason: str) -> None:
    with pytest.raises(RuleError) as raised:
        user_with("on", rule)
    assert raised.value.rule == rule.encode()
    assert raised.value.reason == reason


def test_a_pattern_after_allkeys_or_allchannels_is_refused() -> None:
    with pytest.raises(RuleError, match="'allkeys' flag"):
        user_with("~*", "~a")
    with pytest.raises(RuleError, match="'allkeys' flag"):
        user_with("allkeys", "%R~x")
    with pytest.raises(RuleError, match="'allchannels' flag"):
        user_with("&*", "&news")


def test_setuser_changes_nothing_when_one_rule_is_bad() -> None:
    table = UserTable()
    table.set_user(b"bob", [b"on", b">pw", b"+get", b"~*"])
    before = table.users[b"bob"].describe()
    with pytest.raises(RuleError):
        table.set_user(b"bob", [b"+set", b"-nosuch"])
    assert table.users[b"bob"].describe() == before


def test_setuser_changes_the_user_that_connections_hold() -> None:
    table = UserTable()
    table.set_user(b"bob", [b"on", b"nopass", b"+get", b"~*"])
    held = table.users[b"bob"]
    table.set_user(b"bob", [b"+set"])
    assert held.may_run(b"set")


def test_authenticate_needs_an_enabled_user_and_one_of_its_passwords() -> None:
    table = UserTable("adminpw", [(b"app", (b"on", b">one", b">two")), (b"off", (b">pw",))])
    assert table.auth_required
    assert table.authenticate(b"default", b"adminpw") is table.default
    assert table.authenticate(b"app", b"two") is table.users[b"app"]
    assert table.authenticate(b"app", b"three") is None
    assert table.authenticate(b"off", b"pw") is None  # a new user is off until "on"
    assert table.authenticate(b"nosuch", b"") is None
    assert not UserTable().auth_required


def denial(user: users.User, *request: bytes) -> tuple[str, bytes] | None:
    spec = resolve(request)
    assert not isinstance(spec, Error), spec
    found = users.check(user, spec, request)
    return None if found is None else (found.reason, found.subject)


def test_commands_are_checked_by_full_name_and_category() -> None:
    user = user_with("on", "~*", "+@read", "+client|id", "-hget")
    assert denial(user, b"GET", b"k") is None
    assert denial(user, b"SET", b"k", b"v") == ("command", b"set")
    assert denial(user, b"HGET", b"h", b"f") == ("command", b"hget")
    assert denial(user, b"CLIENT", b"ID") is None
    assert denial(user, b"CLIENT", b"KILL", b"ID", b"1") == ("command", b"client|kill")
    assert denial(user, b"AUTH", b"x", b"y") is None  # always: a client may change user


def test_key_patterns_grant_reading_and_writing_separately() -> None:
    user = user_with("on", "+@all", "%R~r:*", "%W~w:*", "~rw:*")
    assert denial(user, b"GET", b"r:1") is None
    assert denial(user, b"SET", b"r:1", b"v") == ("key", b"r:1")
    assert denial(user, b"SET", b"w:1", b"v") is None
    assert denial(user, b"GET", b"w:1") == ("key", b"w:1")
    assert denial(user, b"INCR", b"rw:1") is None
    assert denial(user, b"COPY", b"r:1", b"w:1") is None  # reads its source, writes its dest
    assert denial(user, b"COPY", b"w:1", b"r:1") == ("key", b"w:1")
    assert denial(user, b"MGET", b"r:1", b"rw:2", b"other") == ("key", b"other")
    assert user.key_allowed(b"rw:x", READ | WRITE) and not user.key_allowed(b"r:x", WRITE)


def test_channels_match_by_pattern_and_psubscribe_patterns_literally() -> None:
    user = user_with("on", "+@all", "~*", "&news.*")
    assert denial(user, b"PUBLISH", b"news.sport", b"hi") is None
    assert denial(user, b"PUBLISH", b"other", b"hi") == ("channel", b"other")
    assert denial(user, b"SUBSCRIBE", b"news.a", b"secret") == ("channel", b"secret")
    assert denial(user, b"PSUBSCRIBE", b"news.*") is None
    assert denial(user, b"PSUBSCRIBE", b"news.s*") == ("channel", b"news.s*")


def test_only_a_user_allowed_everything_is_unrestricted() -> None:
    assert user_with("on", "+@all", "~*", "&*").unrestricted
    assert not user_with("on", "+@all", "~*").unrestricted
    assert not user_with("on", "+@all", "-get", "~*", "&*").unrestricted
    assert not user_with("on", "+@all", "~a*", "&*").unrestricted


def test_categories_hold_the_commands_redis_puts_in_them() -> None:
    assert {"get", "hget", "zrange"} <= set(users.in_category("read"))
    assert "set" not in users.in_category("read")
    assert {"flushall", "config|set", "acl|setuser"} <= set(users.in_category("dangerous"))
    assert set(users.CATEGORIES_OF) == users.ALL_COMMANDS
