"""Edge cases of every command, replayed against redis-server 7.0 and compared byte for byte.

Each scenario is a short session (see ``tests/commands/script.py``) run on a
fresh model and an emptied redis-server, in RESP2 and in RESP3. Relative
TTLs compared with GT/LT always differ by seconds: equal ones would tie or
not depending on whether a millisecond passed between the two commands.
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential
from tests.commands.script import run

SCENARIOS: dict[str, str] = {
    "memory_usage": """
        SET k v
        size MEMORY USAGE k
        size MEMORY USAGE k SAMPLES 0
        size MEMORY usage k samples 5 SAMPLES 1
        !list l
        size MEMORY USAGE l
        SET t v PX 100000
        size MEMORY USAGE t
        MEMORY USAGE missing
        MEMORY USAGE missing SAMPLES 1
        MEMORY USAGE k SAMPLES
        MEMORY USAGE k SAMPLES x
        MEMORY USAGE k SAMPLES -1
        MEMORY USAGE k SAMPLES 99999999999999999999
        MEMORY USAGE k FOO 1
        MEMORY USAGE missing FOO
        MEMORY USAGE
        # MEMORY HELP lists only the sub-commands epaxosdb has (USAGE, HELP).
        MEMORY HELP extra
        MEMORY
    """,
    "set_conditions_and_get": """
        SET k v
        SET k v NX
        SET k v XX
        SET k2 v XX
        GET k2
        SET k2 v NX
        SET k v NX XX
        SET k v XX NX
        SET k v2 GET
        SET k w NX GET
        GET k
        SET k3 w NX GET
        GET k3
        SET k4 w XX GET
        EXISTS k4
        SET k v get nx
        SET k v GET GET
        SET k v NX NX
        SET k v XX XX GET
        SET k v nx\\x00junk
        SET k v FOO
        SET k v PERSIST
        SET k v ""
        SET k
        SET
        SET "" ""
        GET ""
    """,
    "set_expiry_options": """
        SET k v EX 100
        ttl TTL k
        SET k v KEEPTTL
        ttl TTL k
        SET k v
        TTL k
        SET k v EX 100 KEEPTTL
        SET k v KEEPTTL EX 100
        SET k v KEEPTTL PX 100
        SET k v PX 100000 EX 100
        SET k v EXAT 100 PXAT 100
        SET k v EX 100 EX 200
        ttl TTL k
        SET k v KEEPTTL KEEPTTL
        ttl TTL k
        SET k v EX
        SET k v PX
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v PX -100
        SET k v EX abc
        SET k v EX 1.5
        SET k v EX +10
        SET k v EX 010
        SET k v EX ""
        SET k v EX 9223372036854775807
        SET k v EX 9223372036854775
        SET k v EX 9223372036854774
        SET k v PX 9223372036854775807
        SET k v EX 9223372036854775808
        SET k v EXAT 9223372036854775807
        SET k v EXAT 9223372036854775
        pttl PTTL k
        SET k v PXAT 9223372036854775807
        pttl PTTL k
        SET k v EXAT 0
        SET k v PXAT -5
        SET k v PX 100000 GET
        pttl PTTL k
        SET k v NX EX 100
        SET k2 v XX PX 100000 GET
        SET nope v EX abc GET
        SET nope v XX EX 100
        EXISTS nope
        SET k v EXAT {now_s+100}
        ttl TTL k
        SET k v PXAT {now+100000}
        pttl PTTL k
        pttl PEXPIRETIME k
    """,
    "setnx_setex_getset_getdel": """
        SETNX a 1
        SETNX a 2
        GET a
        SETNX a
        SETEX b 100 v
        ttl TTL b
        SETEX b 0 v
        SETEX b -5 v
        SETEX b abc v
        SETEX b 9223372036854775807 v
        SETEX b 100
        PSETEX c 100000 v
        pttl PTTL c
        PSETEX c 0 v
        PSETEX c 9223372036854775807 v
        GETSET a 5
        GETSET new 5
        SET t v EX 100
        GETSET t w
        TTL t
        GETDEL a
        GETDEL a
        GETDEL
        SETEX b 100 v extra
    """,
    "mget_mset_msetnx": """
        MSET a 1 b 2 c 3
        MGET a b c d
        MGET d
        MSET a 1 b
        MSET a
        MSETNX a 1 d 4
        MSETNX d 4 e 5
        MGET d e
        MSETNX x 1 x 2
        GET x
        MSETNX y 1 z
        MSET a 9 a 10
        GET a
        SET t v EX 100
        MSET t w
        TTL t
        MGET
    """,
    "integer_counters_and_overflow": """
        INCR n
        INCRBY n 10
        DECR n
        DECRBY n 5
        SET n 9223372036854775806
        INCR n
        INCR n
        GET n
        INCRBY n -1
        DECRBY n -2
        SET n -9223372036854775807
        DECR n
        DECR n
        INCRBY n -1
        INCRBY n 9223372036854775807
        DECRBY n -9223372036854775808
        DECRBY n 9223372036854775808
        INCRBY n 9223372036854775808
        INCRBY n abc
        INCRBY n ""
        INCRBY n 1.0
        DECRBY n -0
        SET s abc
        INCR s
        SET s " 1"
        INCR s
        SET s 01
        INCR s
        SET s -0
        INCR s
        SET s +1
        INCR s
        SET s 1.0
        INCR s
        SET s ""
        INCR s
        SET s 123456789012345678901
        INCR s
        SET s -9223372036854775808
        DECR s
        INCR s
        SET t 5 EX 100
        INCR t
        ttl TTL t
        INCRBY missing 5
        DECR missing2
        INCR
        INCRBY n
        DECRBY n 1 2
    """,
    "incrbyfloat_formatting": """
        SET f 10.5
        INCRBYFLOAT f 0.1
        SET f 3.0e3
        INCRBYFLOAT f 5.0e-1
        INCRBYFLOAT f .5
        INCRBYFLOAT f 5.
        INCRBYFLOAT f +5
        INCRBYFLOAT f 0x1.8p1
        INCRBYFLOAT f 0x10
        INCRBYFLOAT f 1e4000
        INCRBYFLOAT f -1e4000
        INCRBYFLOAT g 1.18e4932
        INCRBYFLOAT g 1.18e4932
        INCRBYFLOAT g 1e5000
        INCRBYFLOAT g inf
        INCRBYFLOAT g -inf
        INCRBYFLOAT g INFINITY
        INCRBYFLOAT g nan
        INCRBYFLOAT g abc
        INCRBYFLOAT g ""
        INCRBYFLOAT g \\x201
        INCRBYFLOAT g 1\\x20
        INCRBYFLOAT g 1e
        INCRBYFLOAT g 1\\x00
        INCRBYFLOAT g 0x
        INCRBYFLOAT h 1e-4940
        INCRBYFLOAT h -1e-4940
        INCRBYFLOAT h 1e-5000
        INCRBYFLOAT h 5e-18
        INCRBYFLOAT h 1.5e-17
        INCRBYFLOAT h 0.00000000000000001
        SET h 1.7976931348623157e308
        INCRBYFLOAT h 1
        SET h abc
        INCRBYFLOAT h 1
        SET h inf
        INCRBYFLOAT h 1
        SET h 1e10
        INCRBYFLOAT h 0
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT x 0.1
        INCRBYFLOAT y -3
        INCRBYFLOAT y 3
        INCRBYFLOAT y -0
        INCRBYFLOAT z 123456789.123456789
        INCRBYFLOAT z 1e20
        INCRBYFLOAT w 0.0000001
        INCRBYFLOAT w 9007199254740993
        INCRBYFLOAT v 2.5e-1
        INCRBYFLOAT v 1e-3
        SET t 1.5 EX 100
        INCRBYFLOAT t 1
        ttl TTL t
        INCRBYFLOAT t
    """,
    "getrange_indexes": """
        SET s Hello\\x20World
        GETRANGE s 0 3
        GETRANGE s -3 -1
        GETRANGE s 0 -1
        GETRANGE s 10 100
        GETRANGE s -1 -5
        GETRANGE s 5 3
        GETRANGE s -5 -1
        GETRANGE s 0 0
        GETRANGE s 100 200
        GETRANGE s -100 3
        GETRANGE s 3 -100
        GETRANGE s -100 -100
        GETRANGE s 0 9223372036854775807
        GETRANGE s -9223372036854775808 9223372036854775807
        GETRANGE s abc 1
        GETRANGE s 1 abc
        GETRANGE missing 0 -1
        GETRANGE missing abc 1
        SET e ""
        GETRANGE e 0 -1
        GETRANGE e -1 0
        GETRANGE e 0 0
        SET n 12345
        GETRANGE n 1 2
        GETRANGE s 0
    """,
    "setrange_append_strlen": """
        SET s Hello\\x20World
        SETRANGE s 6 Redis
        GET s
        SETRANGE s 20 x
        GET s
        STRLEN s
        SETRANGE new 0 abc
        SETRANGE new2 5 abc
        GET new2
        SETRANGE new3 0 ""
        EXISTS new3
        SETRANGE new3 10 ""
        EXISTS new3
        SETRANGE s 3 ""
        SETRANGE s -1 x
        SETRANGE s abc x
        SETRANGE s 536870912 x
        SETRANGE s 536870911 xy
        SETRANGE big 9223372036854775807 x
        SETRANGE big 536870912 ""
        SET t abc EX 100
        SETRANGE t 1 X
        GET t
        ttl TTL t
        APPEND t def
        ttl TTL t
        APPEND s \\x20more
        APPEND new4 abc
        GET new4
        STRLEN s
        STRLEN missing
        APPEND s
        SETRANGE s 0
    """,
    "lcs": """
        MSET key1 ohmytext key2 mynewtext
        LCS key1 key2
        LCS key2 key1
        LCS key1 key2 LEN
        LCS key1 key2 IDX
        LCS key1 key2 idx
        LCS key1 key2 IDX WITHMATCHLEN
        LCS key1 key2 IDX MINMATCHLEN 4
        LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS key1 key2 WITHMATCHLEN IDX MINMATCHLEN 2 MINMATCHLEN 5
        LCS key1 key2 IDX MINMATCHLEN -5
        LCS key1 key2 IDX MINMATCHLEN 100
        LCS key1 key2 IDX IDX
        LCS key1 key2 LEN LEN WITHMATCHLEN MINMATCHLEN 3
        LCS key1 key2 MINMATCHLEN 3
        LCS key1 key2 IDX\\x00junk
        LCS key1 key1 IDX WITHMATCHLEN
        # Several ranges, one that reaches both strings' first bytes, ties in the walk.
        MSET a abcabcXabc b zabcYabcab
        LCS a b IDX WITHMATCHLEN
        LCS b a IDX WITHMATCHLEN
        MSET a aaaa b aa
        LCS a b IDX WITHMATCHLEN
        LCS b a IDX WITHMATCHLEN
        MSET a abcd b dcba
        LCS a b
        LCS a b IDX
        MSET a \\x00\\xff\\x00x b x\\x00\\xff
        LCS a b IDX WITHMATCHLEN
        LCS a b
        SET nums 12345
        SET nums2 -2345
        LCS nums nums2 IDX
        # Missing and empty strings are empty; expired keys are missing.
        LCS key1 nokey
        LCS nokey key1 IDX WITHMATCHLEN
        LCS nokey nokey2 LEN
        SET empty ""
        LCS empty key1 IDX
        SET gone abc PX 100000
        PEXPIREAT gone 1
        LCS gone key1 LEN
        # Errors, in Redis's order: the types first, then the options, then LEN with IDX.
        LCS key1 key2 LEN IDX
        LCS key1 key2 IDX FOO LEN
        LCS key1 key2 LEN IDX MINMATCHLEN abc
        LCS key1 key2 MINMATCHLEN abc
        LCS key1 key2 MINMATCHLEN 1.5 IDX
        LCS key1 key2 MINMATCHLEN ""
        LCS key1 key2 MINMATCHLEN 9223372036854775808
        LCS key1 key2 MINMATCHLEN
        LCS key1 key2 IDX MINMATCHLEN
        LCS key1 key2 FOO
        LCS key1 key2 WITHSCORES
        !hash h
        LCS key1 h
        LCS h key1 FOO
        LCS nokey h LEN IDX
        !list l
        LCS l l
        LCS key1
        LCS
    """,
    "setbit_getbit": """
        SETBIT b 7 1
        GET b
        GETBIT b 7
        GETBIT b 6
        GETBIT b 100
        SETBIT b 7 0
        SETBIT b 7 0
        SETBIT b 0 1
        GET b
        SETBIT b 23 1
        STRLEN b
        GET b
        SETBIT b 4294967295 0
        STRLEN b
        GETBIT b 4294967295
        SETBIT b 4294967296 1
        GETBIT b 4294967296
        SETBIT b -1 1
        GETBIT b -1
        SETBIT b abc 1
        SETBIT b 1 2
        SETBIT b 1 -1
        SETBIT b 1 abc
        SETBIT b 1 " 1"
        SETBIT b abc 2
        GETBIT b abc
        GETBIT missing 0
        GETBIT missing abc
        SET s a
        SETBIT s 6 1
        GET s
        SET t x EX 100
        SETBIT t 0 1
        ttl TTL t
        SET n 12
        SETBIT n 12 1
        GET n
        SETBIT b 1
        GETBIT b
    """,
    "bitcount_ranges": """
        SET s foobar
        BITCOUNT s
        BITCOUNT s 0 0
        BITCOUNT s 1 1
        BITCOUNT s 0 -1
        BITCOUNT s -2 -1
        BITCOUNT s -1 -2
        BITCOUNT s -100 100
        BITCOUNT s 5 2
        BITCOUNT s 1 1 BYTE
        BITCOUNT s 5 30 BIT
        BITCOUNT s 5 30 bit
        BITCOUNT s 0 -1 BIT
        BITCOUNT s -7 -1 BIT
        BITCOUNT s 9 9 BIT
        BITCOUNT s 3 2 BIT
        BITCOUNT s 0 1000 BIT
        BITCOUNT s -1000 3 BIT
        BITCOUNT s 0 1 FOO
        BITCOUNT s -1 -2 FOO
        BITCOUNT s 0
        BITCOUNT s 0 1 BIT x
        BITCOUNT s abc 1
        BITCOUNT s 1 abc
        BITCOUNT s 0 9223372036854775807
        BITCOUNT s -9223372036854775808 -1
        BITCOUNT missing
        BITCOUNT missing 0
        BITCOUNT missing abc def
        BITCOUNT missing 0 1 FOO
        SET e ""
        BITCOUNT e
        BITCOUNT e 0 -1
        BITCOUNT e 0 -1 BIT
        SET n 255
        BITCOUNT n
        BITCOUNT
    """,
    "bitpos_ranges": """
        SET s \xff\xf0\x00
        BITPOS s 0
        BITPOS s 1
        BITPOS s 0 1
        BITPOS s 1 2
        BITPOS s 1 2 -1
        BITPOS s 0 0 0
        BITPOS s 0 0 -1
        BITPOS s 0 2 -1
        BITPOS s 1 -1
        BITPOS s 0 -1 -1
        BITPOS s 0 0 11 BIT
        BITPOS s 0 0 12 BIT
        BITPOS s 1 12 23 BIT
        BITPOS s 0 3 7 bit
        BITPOS s 0 5 5 BIT
        BITPOS s 1 5 5 BIT
        BITPOS s 1 -5 -1 BIT
        BITPOS s 0 0 -1 BYTE
        BITPOS s 1 3 2 BIT
        BITPOS s 1 100 200
        BITPOS s 0 100
        BITPOS s 2
        BITPOS s -1
        BITPOS s abc
        BITPOS s 1 abc
        BITPOS s 1 0 abc
        BITPOS s 1 abc 1 FOO
        BITPOS s 1 0 abc FOO
        BITPOS s 1 0 1 FOO
        BITPOS s 1 0 1 BIT x
        SET ones \xff\xff
        BITPOS ones 0
        BITPOS ones 0 1
        BITPOS ones 0 0 -1
        BITPOS ones 0 0 15 BIT
        BITPOS ones 0 3 BYTE
        SET zeros \x00\x00\x00\x00\x00\x00\x00\x00\x00\x01
        BITPOS zeros 1
        BITPOS zeros 1 0 8
        BITPOS zeros 0 0 -1
        BITPOS missing 0
        BITPOS missing 1
        BITPOS missing 0 abc
        BITPOS missing 2
        SET e ""
        BITPOS e 0
        BITPOS e 1
        BITPOS s
    """,
    "bitop_operations": """
        SET a \xf0\x0f
        SET b \xff
        BITOP AND d a b
        GET d
        BITOP OR d a b
        GET d
        BITOP XOR d a b
        GET d
        BITOP NOT d a
        GET d
        BITOP not d b
        GET d
        BITOP and d a b missing
        GET d
        BITOP OR d missing
        EXISTS d
        SET d x EX 100
        BITOP OR d a
        TTL d
        BITOP NOT d a b
        BITOP NOT d
        BITOP FOO d a
        BITOP ANDX d a
        BITOP XOR a a b
        GET a
        SET e ""
        BITOP OR d e
        EXISTS d
        BITOP OR d2 e missing
        EXISTS d2
        SET n 123
        BITOP AND d n b
        GET d
        BITOP AND d
    """,
    "hash_fields": """
        HSET h a 1 b 2
        HSET h b 3 c 4
        HGETALL h
        HKEYS h
        HVALS h
        HLEN h
        HGET h b
        HGET h nosuch
        HGET nosuch a
        HMGET h a nosuch c
        HMGET nosuch a b
        HEXISTS h a
        HEXISTS h nosuch
        HEXISTS nosuch a
        HSTRLEN h a
        HSTRLEN h nosuch
        HSTRLEN nosuch a
        HSETNX h a 9
        HSETNX h d 5
        HGETALL h
        HDEL h a nosuch
        HDEL h a
        HGETALL h
        HSET h a again
        HGETALL h
        HMSET h x 1 y 2
        HGETALL h
        HSET h "" ""
        HGET h ""
        HDEL h b c d x y a ""
        EXISTS h
        HGETALL h
        HKEYS h
        HLEN h
        HDEL h a
        HSET h f
        HSET h f v g
        HMSET h f
        HMSET h f v g
        HSET h
        HGET h
        HDEL h
        HSET t f v
        EXPIRE t 100
        HSET t g w
        ttl TTL t
        HDEL t f
        ttl TTL t
        HSET z f \x00\xff\r\n
        HGET z f
        TYPE z
        RENAME z z2
        HGETALL z2
        SET z2 str
        HGET z2 f
        HSET z2 f v
        DEL z2
        HSET z2 f v
        HGETALL z2
    """,
    "hash_counters": """
        HINCRBY h n 5
        HINCRBY h n -7
        HGET h n
        HINCRBY h n abc
        HINCRBY h n 9223372036854775808
        HSET h big 9223372036854775807
        HINCRBY h big 1
        HINCRBY h big 0
        HSET h small -9223372036854775808
        HINCRBY h small -1
        HSET h s hello
        HINCRBY h s 1
        HSET h sp " 1"
        HINCRBY h sp 1
        HINCRBYFLOAT h sp 1
        HINCRBYFLOAT h f 10.5
        HINCRBYFLOAT h f 0.1
        HGET h f
        HINCRBYFLOAT h f -10.6
        HINCRBYFLOAT h f 1e3
        HINCRBYFLOAT h f abc
        HINCRBYFLOAT h f inf
        HINCRBYFLOAT h f -inf
        HINCRBYFLOAT h f nan
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h n 1.5
        HSET h huge 1e308
        HINCRBYFLOAT h huge 1e308
        HINCRBYFLOAT h e 5.0e3
        HINCRBYFLOAT h x 0x10
        HINCRBYFLOAT nokey f abc
        HINCRBY nokey f abc
        SET str v
        HINCRBY str f 1
        HINCRBY str f abc
        HINCRBYFLOAT str f 1
        HINCRBYFLOAT str f abc
        HINCRBYFLOAT str f inf
        HINCRBY h n
        HINCRBYFLOAT h f
    """,
    "hscan_options": """
        HSET h alpha 1 beta 2 gamma 3 alps 4
        HSCAN h 0
        HSCAN h 0 MATCH al*
        HSCAN h 0 match *a
        HSCAN h 0 COUNT 1
        HSCAN h 0 COUNT 1 MATCH b*
        HSCAN h 5
        HSCAN h 0 MATCH nothing*
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT -1
        HSCAN h 0 COUNT abc
        HSCAN h 0 TYPE string
        HSCAN h 0 MATCH
        HSCAN h 0 FOO bar
        HSCAN h abc
        HSCAN h -1
        HSCAN nokey 0
        HSCAN nokey 0 FOO
        HSCAN nokey abc
        SET s v
        HSCAN s 0
        HSCAN s 0 FOO
        HSCAN s abc
        HSCAN h
    """,
    "hrandfield": """
        # Replies that do not depend on the pick: one field, a count covering the hash
        # (its insertion order in both), a count of 0, errors in Redis's order.
        HSET one f v
        HRANDFIELD one
        HRANDFIELD one 3
        HRANDFIELD one 3 WITHVALUES
        HRANDFIELD one -3
        HRANDFIELD one -2 WITHVALUES
        HRANDFIELD one -1 withvalues
        HRANDFIELD one 1 WITHVALUES\\x00junk
        HRANDFIELD one 0
        HRANDFIELD one 0 WITHVALUES
        HSET h a 1 b 2 c 3 "" empty
        HRANDFIELD h 4
        HRANDFIELD h 100 WITHVALUES
        HDEL h b
        HSET h b again
        HRANDFIELD h 9223372036854775807
        HRANDFIELD h 4611686018427387903 WITHVALUES
        # A value over 64 bytes: Redis's hash table encoding, whose order is its own.
        HSET big a 1 b 2 c 3
        HSET big long xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        set HRANDFIELD big 4
        pairs HRANDFIELD big 1000 WITHVALUES
        HRANDFIELD big 0 WITHVALUES
        HRANDFIELD h abc
        HRANDFIELD h ""
        HRANDFIELD h 1.5
        HRANDFIELD h 1 FOO
        HRANDFIELD h 1 WITHSCORES
        HRANDFIELD h 1 WITHVALUES x
        HRANDFIELD h abc FOO
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h -9223372036854775808 WITHVALUES
        HRANDFIELD h 4611686018427387904 WITHVALUES
        HRANDFIELD h -4611686018427387904 WITHVALUES
        HRANDFIELD h -4611686018427387903 FOO
        HRANDFIELD nokey
        HRANDFIELD nokey 5
        HRANDFIELD nokey -5 WITHVALUES
        HRANDFIELD nokey 0
        HRANDFIELD nokey abc
        HRANDFIELD nokey 1 FOO
        HRANDFIELD nokey 4611686018427387904 WITHVALUES
        SET str v
        HRANDFIELD str
        HRANDFIELD str 0
        HRANDFIELD str -1 WITHVALUES
        HRANDFIELD str abc
        HRANDFIELD str 1 FOO
        !zset z
        HRANDFIELD z 1
        HSET gone f v
        PEXPIREAT gone 1
        HRANDFIELD gone
        HRANDFIELD gone -2 WITHVALUES
        HRANDFIELD
    """,
    "set_members": """
        SADD s a b c
        SADD s c d
        SADD s a
        set SMEMBERS s
        SCARD s
        SISMEMBER s a
        SISMEMBER s z
        SISMEMBER nosuch a
        SMISMEMBER s a z b
        SMISMEMBER nosuch a b
        SREM s a z
        SREM s z
        SREM nosuch a
        set SMEMBERS s
        SREM s b c d
        EXISTS s
        SMEMBERS s
        SCARD s
        SMEMBERS nosuch
        SADD n 3 1 2 -5 10
        SMEMBERS n
        SADD n 007
        set SMEMBERS n
        SADD t x
        EXPIRE t 100
        SADD t y
        ttl TTL t
        SREM t x
        ttl TTL t
        SADD e ""
        SISMEMBER e ""
        SADD s
        SREM s
        SMISMEMBER s
        SISMEMBER s
    """,
    "set_algebra": """
        SADD a 1 2 3 4
        SADD b 3 4 5
        SADD c 4 5 6
        SINTER b a
        SUNION c b a
        SDIFF a c
        set SINTER a b
        set SINTER a b c
        SINTER a nosuch
        SINTER nosuch a
        set SUNION a b c
        set SUNION a nosuch
        SUNION nosuch
        set SDIFF a b
        set SDIFF a b c
        SDIFF nosuch a
        set SDIFF a nosuch
        SDIFF a a
        SINTERSTORE d a b
        set SMEMBERS d
        SUNIONSTORE d a c
        SCARD d
        SDIFFSTORE d a b c
        set SMEMBERS d
        SET d x EX 100
        SINTERSTORE d a b
        TTL d
        TYPE d
        SDIFFSTORE d a a
        EXISTS d
        SUNIONSTORE d nosuch
        EXISTS d
        SINTERSTORE a a b
        set SMEMBERS a
        SET str x
        SINTER a str
        SINTER nosuch str
        SUNION a str
        SDIFF str a
        SDIFF nosuch str
        SINTERSTORE d a str
        SUNIONSTORE d nosuch str
        SDIFFSTORE d str
        SINTERSTORE str a
        TYPE str
        SINTER
        SINTERSTORE d
    """,
    "smove_spop_srandmember": """
        SADD s a b
        SMOVE s s a
        SMOVE s s z
        SMOVE s d a
        SMEMBERS d
        SMEMBERS s
        SMOVE s d z
        SMOVE nosuch d a
        SMOVE s d b
        EXISTS s
        set SMEMBERS d
        SET str x
        SMOVE d str a
        SMOVE str d a
        SMOVE nosuch str a
        SMOVE d str zz
        SADD one only
        SPOP one
        EXISTS one
        SPOP one
        SPOP one 3
        SADD p 1 2 3
        set SPOP p 10
        EXISTS p
        SADD p 1 2 3
        SPOP p 0
        SCARD p
        SPOP p -1
        SPOP p abc
        SPOP p 1 2
        SPOP str
        SPOP str 1
        SPOP str abc
        SPOP str 0
        SPOP nosuch 0
        SADD q x
        SRANDMEMBER q
        SRANDMEMBER q 5
        SRANDMEMBER q -3
        SRANDMEMBER q 0
        set SRANDMEMBER p 3
        set SRANDMEMBER p 100
        SRANDMEMBER p abc
        SRANDMEMBER p 1 2
        SRANDMEMBER p -9223372036854775808
        SRANDMEMBER nosuch
        SRANDMEMBER nosuch 5
        SRANDMEMBER nosuch -5
        SRANDMEMBER str
        SRANDMEMBER str 0
        SRANDMEMBER str abc
        SCARD p
    """,
    "sscan_options": """
        SADD s alpha beta gamma alps
        SSCAN s 0 MATCH alp?
        SADD i 30 -2 100 7
        SSCAN i 0
        SSCAN i 5 MATCH 1*
        SSCAN i 0 COUNT 1
        SSCAN s 0 MATCH nothing*
        SSCAN s 0 COUNT 0
        SSCAN s 0 COUNT abc
        SSCAN s 0 TYPE string
        SSCAN s 0 MATCH
        SSCAN s abc
        SSCAN nokey 0
        SSCAN nokey 0 FOO
        SSCAN nokey abc
        SET str v
        SSCAN str 0
        SSCAN str 0 FOO
        SSCAN s
    """,
    "zadd_options_and_scores": """
        ZADD z 1 a 2 b 3 c
        ZADD z 1 a
        ZRANGE z 0 -1 WITHSCORES
        ZADD z CH 1 a 5 b 9 d
        ZADD z NX 10 a 11 e
        ZADD z XX 10 a 11 f
        ZADD z XX CH 10 a 11 f
        ZADD z GT CH 5 a 20 b
        ZADD z LT CH 5 a 20 b
        ZADD z XX GT CH 50 a
        ZADD z xx lt ch 1 a 1 zz
        ZRANGE z 0 -1 WITHSCORES
        ZADD z INCR 2 a
        ZADD z INCR -2.5 new
        ZADD z NX INCR 1 a
        ZADD z XX INCR 1 nope
        ZADD z GT INCR -1 a
        ZADD z LT INCR -1 a
        ZADD nokey XX 1 a
        ZADD nokey XX INCR 1 a
        EXISTS nokey
        ZADD z NX XX 1 a
        ZADD z GT LT 1 a
        ZADD z GT NX 1 a
        ZADD z LT NX 1 a
        ZADD z INCR 1 a 2 b
        ZADD z NX XX 1 a 2
        ZADD z INCR abc a
        ZADD z 1 a 2
        ZADD z 1 a abc b
        ZADD z NX
        ZADD z nx 1
        ZADD z ch nx\x00junk 1 q
        ZADD z CH CH 1 a
        ZADD z FOO 1 a
        ZADD z 1
        ZADD z
        ZADD s 1 a 2 b
        ZADD s inf i -inf j +inf k 1e20 l 1.5 m -0 n 0x10 o 3.0e3 p -1e-320 q 1.1 r
        ZRANGE s 0 -1 WITHSCORES
        ZSCORE s n
        ZSCORE s l
        ZSCORE s r
        ZSCORE s q
        ZADD s nan x
        ZADD s NaN x
        ZADD s -nan x
        ZADD s 1e400 x
        ZADD s -1e400 x
        ZADD s 1e-400 x
        ZADD s "" x
        ZADD s " 1" x
        ZADD s "1 " x
        ZADD s 1e x
        ZADD s 0x x
        ZADD s . x
        ZADD s 1.5.5 x
        ZADD s 1_0 x
        ZADD s infinity x
        ZADD s -INFINITY y
        ZADD s 1\x00 x
        ZADD s +.5 x
        ZADD s 5. x
        ZADD s 0X1P-2 x
        ZADD s 0x1p99999 x
        ZRANGE s 0 -1 WITHSCORES
        ZADD s INCR -inf i
        ZINCRBY s -inf i
        ZINCRBY s inf j
        ZSCORE s i
        ZINCRBY s 1 m
        ZINCRBY s -0 newzero
        ZADD s INCR -0 newzero2
        ZSCORE s newzero
        ZINCRBY s 1e308 l
        ZINCRBY s 1e308 big
        ZINCRBY s 1e308 big
        ZINCRBY s abc m
        ZINCRBY s nx 1
        ZINCRBY s 1 nx
        ZINCRBY s xx m
        ZINCRBY s ""
        SET str v
        ZADD str 1 a
        ZADD str abc a
        ZADD str NX XX 1 a
        ZINCRBY str 1 a
        ZINCRBY str abc a
        ZADD e 1 a
        EXPIRE e 100
        ZADD e 2 b
        ttl TTL e
        ZINCRBY e 1 a
        ttl TTL e
    """,
    "zset_negative_zero_by_encoding": """
        ZADD small -0 m
        ZSCORE small m
        ZADD first_long -inf xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx -0 m
        ZSCORE first_long m
        ZADD first_short -0 m -inf xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        ZSCORE first_short m
        ZADD c 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        ZADD c -0 m -0 n
        ZSCORE c m
        ZINCRBY d -0 m
        ZSCORE d m
        ZADD d2 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        ZINCRBY d2 -0 m
        ZSCORE d2 m
        ZRANGE c 0 -1 WITHSCORES
        ZRANGESTORE r1 c 0 -1
        ZRANGE r1 0 -1 WITHSCORES
        ZRANGESTORE r2 c 0 -1 REV
        ZRANGE r2 0 -1 WITHSCORES
        ZRANGESTORE r3 c -inf +inf BYSCORE
        ZRANGE r3 0 -1 WITHSCORES
        ZRANGESTORE r4 c [a [z BYLEX
        ZRANGE r4 0 -1 WITHSCORES
        ZUNIONSTORE u1 1 c
        ZSCORE u1 m
        ZADD onlyx 1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        ZDIFFSTORE u2 2 c onlyx
        ZRANGE u2 0 -1 WITHSCORES
        ZINTERSTORE u3 2 c c AGGREGATE MIN
        ZSCORE u3 m
        ZUNION 1 c WITHSCORES
        COPY c c2
        ZSCORE c2 m
        ZMPOP 1 c MIN COUNT 2
    """,
    "zset_reads": """
        ZADD z 1 a 1 b 2 c 3 d -1 e
        ZCARD z
        ZCARD nokey
        ZSCORE z a
        ZSCORE z nope
        ZSCORE nokey a
        ZMSCORE z a nope e
        ZMSCORE nokey a b
        ZRANK z a
        ZRANK z e
        ZRANK z d
        ZRANK z nope
        ZRANK nokey a
        ZREVRANK z a
        ZREVRANK z d
        ZREVRANK z nope
        ZCOUNT z -inf +inf
        ZCOUNT z 1 2
        ZCOUNT z (1 2
        ZCOUNT z (1 (2
        ZCOUNT z 2 1
        ZCOUNT z (1 (1
        ZCOUNT z 1 1
        ZCOUNT z "" ""
        ZCOUNT z " 1" " 3"
        ZCOUNT z ( (3
        ZCOUNT z 1\x00abc 2
        ZCOUNT z -1e400 1e400
        ZCOUNT z abc 1
        ZCOUNT z 1 abc
        ZCOUNT z nan 1
        ZCOUNT z "1 " 2
        ZCOUNT z " " 2
        ZCOUNT z [1 2
        ZCOUNT nokey 1 2
        ZCOUNT nokey abc 2
        ZADD l 0 a 0 b 0 c 0 d 0 e 0 f
        ZLEXCOUNT l - +
        ZLEXCOUNT l [b [d
        ZLEXCOUNT l (b (d
        ZLEXCOUNT l (b +
        ZLEXCOUNT l - (c
        ZLEXCOUNT l [d [b
        ZLEXCOUNT l + -
        ZLEXCOUNT l - -
        ZLEXCOUNT l [a [a
        ZLEXCOUNT l (a [a
        ZLEXCOUNT l [ +
        ZLEXCOUNT l ( (z
        ZLEXCOUNT l a c
        ZLEXCOUNT l [a c
        ZLEXCOUNT l "" +
        ZLEXCOUNT l +x +
        ZLEXCOUNT l -\x00x +
        ZLEXCOUNT nokey - +
        ZLEXCOUNT nokey a b
        ZLEXCOUNT z - +
        ZLEXCOUNT z [b [d
        SET str v
        ZCARD str
        ZSCORE str a
        ZMSCORE str a
        ZRANK str a
        ZREVRANK str a
        ZCOUNT str 1 2
        ZCOUNT str abc 2
        ZLEXCOUNT str - +
        ZLEXCOUNT str a b
        ZSCORE z
        ZMSCORE z
        ZRANK z a b
        ZADD mixed 1.5 -3 1.5 a 1000 10
        ZRANGEBYLEX mixed [1 [10
        ZRANGEBYLEX mixed [1 [10 LIMIT 1 -1
        ZRANGEBYLEX mixed [1 [10 LIMIT 0 -1
        ZREVRANGEBYLEX mixed [9 [1 LIMIT 1 -1
        ZRANGE mixed [1 [10 BYLEX LIMIT 1 5
        ZRANGESTORE mixed_out mixed [1 [10 BYLEX LIMIT 1 5
    """,
    "zrange_forms": """
        ZADD z 1 a 2 b 3 c 4 d 5 e 5 f
        ZRANGE z 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 1 2
        ZRANGE z -2 -1
        ZRANGE z -100 100
        ZRANGE z 3 1
        ZRANGE z 10 20
        ZRANGE z -1 -2
        ZRANGE z 0 0 REV
        ZRANGE z 0 1 rev
        ZRANGE z 0 1 REV WITHSCORES
        ZRANGE z a 1
        ZRANGE z 0 1.5
        ZRANGE z 0 1 LIMIT 0 1
        ZRANGE z 0 1 LIMIT 0
        ZRANGE z 0 1 FOO
        ZRANGE z 0 1 REV REV
        ZRANGE z 0 1 BYSCORE BYLEX
        ZRANGE z 1 3 BYSCORE
        ZRANGE z (1 3 BYSCORE
        ZRANGE z 3 1 BYSCORE REV
        ZRANGE z 3 (1 BYSCORE REV
        ZRANGE z 1 3 BYSCORE REV
        ZRANGE z -inf +inf BYSCORE LIMIT 1 2
        ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
        ZRANGE z -inf +inf BYSCORE LIMIT -1 2
        ZRANGE z -inf +inf BYSCORE LIMIT 0 0
        ZRANGE z -inf +inf BYSCORE LIMIT 6 1
        ZRANGE z -inf +inf BYSCORE LIMIT 5 10
        ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2
        ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES
        ZRANGE z -inf +inf BYSCORE WITHSCORES LIMIT 0 3
        ZRANGE z -inf +inf BYSCORE LIMIT a 1
        ZRANGE z -inf +inf BYSCORE LIMIT 0 b
        ZRANGE z abc 1 BYSCORE
        ZRANGE z [a [c BYLEX
        ZRANGE z - + BYLEX
        ZRANGE z + - BYLEX REV
        ZRANGE z - + BYLEX LIMIT 1 2
        ZRANGE z - + BYLEX WITHSCORES
        ZRANGE z a c BYLEX
        ZRANGE z 0 -1 WITHSCORES BYLEX
        ZRANGE z 0 1 LIMIT 0 1 BYSCORE
        ZRANGE z 0 -1 withscores withscores
        ZRANGE nokey 0 -1
        ZRANGE nokey 0 -1 WITHSCORES
        ZRANGE nokey a b
        ZRANGE nokey 0 1 LIMIT 0 1
        ZREVRANGE z 0 1
        ZREVRANGE z 0 -1 WITHSCORES
        ZREVRANGE z 0 1 REV
        ZREVRANGE z 0 1 BYSCORE
        ZREVRANGE z 0 1 LIMIT 0 1
        ZREVRANGE z a 1
        ZRANGEBYSCORE z 2 4
        ZRANGEBYSCORE z 2 4 WITHSCORES
        ZRANGEBYSCORE z (2 (5
        ZRANGEBYSCORE z -inf +inf LIMIT 2 2
        ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 2 2
        ZRANGEBYSCORE z -inf +inf LIMIT 2
        ZRANGEBYSCORE z -inf +inf REV
        ZRANGEBYSCORE z -inf +inf BYLEX
        ZRANGEBYSCORE z a b
        ZREVRANGEBYSCORE z 4 2
        ZREVRANGEBYSCORE z 2 4
        ZREVRANGEBYSCORE z +inf -inf LIMIT 1 3
        ZREVRANGEBYSCORE z (5 -inf WITHSCORES
        ZADD l 0 a 0 b 0 c 0 d 0 e
        ZRANGEBYLEX l - +
        ZRANGEBYLEX l [b (d
        ZRANGEBYLEX l (b [d LIMIT 1 5
        ZRANGEBYLEX l - + LIMIT -1 1
        ZRANGEBYLEX l - + WITHSCORES
        ZRANGEBYLEX l a b
        ZREVRANGEBYLEX l + -
        ZREVRANGEBYLEX l [d (a
        ZREVRANGEBYLEX l [d (a LIMIT 1 1
        ZREVRANGEBYLEX l - +
        ZADD mixed 1 d 2 a 3 c 4 b 5 e
        ZRANGEBYLEX mixed - +
        ZRANGEBYLEX mixed [b [d
        ZRANGEBYLEX mixed [b +
        ZRANGEBYLEX mixed (a [c
        ZRANGEBYLEX mixed [c [z LIMIT 1 2
        ZREVRANGEBYLEX mixed [d [b
        ZREVRANGEBYLEX mixed (e [a
        ZLEXCOUNT mixed [b [d
        ZLEXCOUNT mixed - (c
        SET str v
        ZRANGE str 0 -1
        ZRANGE str a b
        ZRANGE str 0 1 FOO
        ZRANGEBYSCORE str 0 1
        ZRANGEBYSCORE str a 1
        ZRANGEBYLEX str - +
        ZREVRANGE str 0 1
        ZRANGE z 0
        ZRANGEBYLEX l -
    """,
    "zrangestore": """
        ZADD z 1 a 2 b 3 c
        ZRANGESTORE d z 0 1
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z 1 +inf BYSCORE LIMIT 1 5
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z [c - BYLEX REV
        ZRANGE d 0 -1
        ZRANGESTORE d z 0 -1 WITHSCORES
        ZRANGESTORE d z 0 1 LIMIT 0 1
        ZRANGESTORE d z 5 10
        EXISTS d
        ZRANGESTORE d nokey 0 -1
        SET str v EX 100
        ZRANGESTORE str z 0 0
        TYPE str
        TTL str
        SET str v
        ZRANGESTORE d str 0 -1
        ZRANGESTORE str nokey 0 -1
        EXISTS str
        ZRANGESTORE z z 1 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGESTORE d z a b
        ZRANGESTORE d z 0
    """,
    "zrem_and_remrange": """
        ZADD z 1 a 2 b 3 c 4 d 5 e
        EXPIRE z 100
        ZREM z a x
        ZREM z x y
        ZREM nokey a
        ttl TTL z
        ZREMRANGEBYRANK z 0 0
        ZRANGE z 0 -1
        ZREMRANGEBYRANK z -1 -1
        ZREMRANGEBYRANK z 5 10
        ZREMRANGEBYRANK z 1 0
        ZREMRANGEBYRANK z a 1
        ZREMRANGEBYRANK nokey 0 -1
        ZREMRANGEBYRANK nokey a 1
        ttl TTL z
        ZADD z 1 a 2 b 5 e
        ZREMRANGEBYSCORE z (1 2
        ZREMRANGEBYSCORE z 10 20
        ZREMRANGEBYSCORE z abc 1
        ZREMRANGEBYSCORE nokey 1 2
        ZRANGE z 0 -1
        ZADD l 0 a 0 b 0 c 0 d
        ZREMRANGEBYLEX l [b (d
        ZREMRANGEBYLEX l a b
        ZREMRANGEBYLEX nokey - +
        ZRANGE l 0 -1
        ZREMRANGEBYLEX l - +
        EXISTS l
        ZREMRANGEBYSCORE z -inf +inf
        EXISTS z
        ZADD z 1 a
        ZREM z a
        EXISTS z
        SET str v
        ZREM str a
        ZREMRANGEBYRANK str 0 1
        ZREMRANGEBYRANK str a 1
        ZREMRANGEBYSCORE str 0 1
        ZREMRANGEBYLEX str - +
        ZREMRANGEBYLEX str a b
        ZREM z
        ZREMRANGEBYRANK z 0
    """,
    "zpop_zrandmember_zscan": """
        ZADD z 1 a 2 b 3 c 4 d
        EXPIRE z 100
        ZPOPMIN z
        ZPOPMAX z
        ttl TTL z
        ZPOPMIN z 1
        ZPOPMIN z 0
        ZPOPMIN z -1
        ZPOPMIN z abc
        ZPOPMIN z 1 2
        ZPOPMAX z 10
        EXISTS z
        ZPOPMIN z
        ZPOPMIN z 5
        ZPOPMAX nokey abc
        SET str v
        ZPOPMIN str
        ZPOPMIN str 0
        ZPOPMIN str abc
        ZADD one 7 only
        ZRANDMEMBER one
        ZRANDMEMBER one 3
        ZRANDMEMBER one 3 WITHSCORES
        ZRANDMEMBER one -3
        ZRANDMEMBER one -2 WITHSCORES
        ZRANDMEMBER one 0
        ZRANDMEMBER one 0 WITHSCORES
        ZADD r 1 a 2 b 3 c
        set ZRANDMEMBER r 10
        pairs ZRANDMEMBER r 10 WITHSCORES
        ZRANDMEMBER r abc
        ZRANDMEMBER r 1 FOO
        ZRANDMEMBER r 1 WITHSCORES x
        ZRANDMEMBER r -9223372036854775808
        ZRANDMEMBER r 9223372036854775807 WITHSCORES
        ZRANDMEMBER r -4611686018427387904 WITHSCORES
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 5
        ZRANDMEMBER nokey -5 WITHSCORES
        ZRANDMEMBER str
        ZRANDMEMBER str 1
        ZRANDMEMBER str abc
        ZADD sc 1 alpha 2.5 beta 1e20 gamma -inf alps
        ZSCAN sc 0
        ZSCAN sc 0 MATCH alp*
        ZSCAN sc 0 COUNT 1
        ZSCAN sc 0 COUNT 0
        ZSCAN sc abc
        ZSCAN sc 0 FOO
        ZSCAN nokey 0
        ZSCAN nokey abc
        ZSCAN str 0
        ZSCAN str 0 FOO
        ZSCAN sc
    """,
    "zset_wrong_types_and_keyspace": """
        ZADD z 1 a
        RPUSH l a
        HSET h f v
        ZSCORE z a
        ZRANGE z 0 -1 WITHSCORES
        ZADD z 2 b
        ZRANGE z 0 -1
        TYPE z
        SET s v
        GET z
        SADD z x
        LPUSH z x
        HSET z f v
        ZADD l 1 a
        ZCARD h
        ZRANGESTORE l z 0 -1
        TYPE l
        COPY z z2
        ZRANGE z2 0 -1 WITHSCORES
        RENAME z z3
        ZCARD z3
        scan TYPE zset
        DEL z3
        ZCARD z3
    """,
    "list_push_pop_range": """
        RPUSH l a b c
        LPUSH l x y
        LRANGE l 0 -1
        LLEN l
        LPUSHX nosuch a
        RPUSHX nosuch a
        EXISTS nosuch
        LPUSHX l z
        RPUSHX l w v
        LRANGE l 0 -1
        LRANGE l -3 -1
        LRANGE l 2 1
        LRANGE l -100 100
        LRANGE l 5 100
        LRANGE l 100 200
        LRANGE l -1 -5
        LRANGE l 0 -100
        LRANGE l abc 1
        LRANGE nosuch 0 -1
        LRANGE nosuch abc 1
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 2
        LRANGE l 0 -1
        LPOP l 0
        LPOP l -1
        LPOP l abc
        LPOP l 1 2
        LPOP nosuch
        LPOP nosuch 2
        LPOP nosuch 0
        RPOP l 100
        EXISTS l
        LPOP l
        LPUSH t a
        EXPIRE t 100
        RPUSH t b
        RPOP t
        ttl TTL t
        LPUSH l
        LPOP
    """,
    "list_index_set_trim_rem_insert": """
        RPUSH l a b c a b a
        LINDEX l 0
        LINDEX l -1
        LINDEX l 6
        LINDEX l -7
        LINDEX l abc
        LINDEX nosuch abc
        LSET l 1 B
        LSET l -1 Z
        LSET l 6 x
        LSET l -7 x
        LSET l abc x
        LSET nosuch abc x
        LSET nosuch 0 x
        LRANGE l 0 -1
        LREM l 1 a
        LRANGE l 0 -1
        LREM l -1 a
        LRANGE l 0 -1
        LREM l 0 nothing
        RPUSH l a a a
        LREM l 0 a
        LRANGE l 0 -1
        LREM l abc a
        LREM nosuch abc a
        LREM nosuch 0 a
        LINSERT l BEFORE B x
        LINSERT l after B y
        LINSERT l BEFORE nothing z
        LINSERT l FOO B z
        LINSERT nosuch BEFORE a b
        LINSERT nosuch FOO a b
        LRANGE l 0 -1
        LTRIM l 1 -2
        LRANGE l 0 -1
        LTRIM l 5 1
        EXISTS l
        LTRIM nosuch 0 1
        LTRIM nosuch abc 1
        RPUSH m 1 2 3 4 5
        LTRIM m -2 100
        LRANGE m 0 -1
        LTRIM m 0 -100
        EXISTS m
        LINDEX m
        LSET m 0
    """,
    # Lists long enough to change msgpack's array header (16 elements) and elements long
    # enough to change its bin header (256 bytes), worked on at both ends and in between.
    "long_lists": f"""
        RPUSH q {" ".join(str(i) for i in range(20))}
        LPUSH q {"h" * 300} {"g" * 255} {"f" * 256}
        LLEN q
        LINDEX q 0
        LINDEX q 2
        LINDEX q -1
        LINDEX q 22
        LRANGE q 1 4
        LRANGE q -3 -1
        LSET q 1 {"s" * 70000}
        LSET q -2 short
        LRANGE q 0 2
        RPOP q 3
        LPOP q 2
        LMPOP 1 q RIGHT COUNT 17
        LRANGE q 0 -1
        RPUSH r {" ".join(str(i) for i in range(40))}
        LTRIM r 5 -10
        LRANGE r 0 -1
        LTRIM r -3 -1
        LRANGE r 0 -1
        RPOPLPUSH r r
        LMOVE r r LEFT RIGHT
        LRANGE r 0 -1
        BRPOP nosuch r 0
        BLPOP r 0
        LINSERT r BEFORE 39 x
        LREM r 0 x
        LPOS r 39
        LRANGE r 0 -1
        LPOP r 5
        EXISTS r
    """,
    "lpos_and_lmove": """
        RPUSH l a b c a b c a
        LPOS l a
        LPOS l c
        LPOS l z
        LPOS l a RANK 2
        LPOS l a RANK -1
        LPOS l a RANK -2
        LPOS l a RANK 10
        LPOS l a COUNT 0
        LPOS l a COUNT 2
        LPOS l a COUNT 2 RANK -1
        LPOS l a COUNT 0 MAXLEN 4
        LPOS l c MAXLEN 2
        LPOS l a RANK 2 COUNT 5 MAXLEN 6
        LPOS l z COUNT 3
        LPOS l a RANK 0
        LPOS l a RANK abc
        LPOS l a COUNT -1
        LPOS l a COUNT abc
        LPOS l a MAXLEN -1
        LPOS l a MAXLEN abc
        LPOS l a FOO 1
        LPOS l a RANK
        LPOS l a RANK -9223372036854775808
        LPOS l a RANK -9223372036854775808 COUNT 1
        LPOS nosuch a
        LPOS nosuch a COUNT 1
        LPOS nosuch a RANK 0
        RPUSH src 1 2 3
        LMOVE src dst LEFT RIGHT
        LMOVE src dst right left
        LRANGE src 0 -1
        LRANGE dst 0 -1
        LMOVE src src LEFT RIGHT
        LRANGE src 0 -1
        LMOVE src dst LEFT LEFT
        EXISTS src
        LMOVE src dst LEFT LEFT
        LMOVE dst dst FOO LEFT
        LMOVE nosuch dst LEFT LEFT
        RPOPLPUSH dst other
        LRANGE dst 0 -1
        LRANGE other 0 -1
        RPOPLPUSH nosuch other
        SET str x
        LMOVE dst str LEFT LEFT
        LMOVE str dst LEFT LEFT
        LMOVE nosuch str LEFT LEFT
        RPOPLPUSH str dst
        RPUSH one x
        EXPIRE one 100
        LMOVE one one LEFT RIGHT
        ttl TTL one
        LMOVE src
    """,
    "copy": """
        SET a 1 EX 100
        COPY a a
        COPY a b
        ttl TTL b
        GET b
        COPY a b
        SET a 2
        COPY a b REPLACE
        GET b
        TTL b
        COPY a b DB 0
        COPY a b DB 0 REPLACE
        COPY a c DB abc
        COPY a c DB 99999999999
        COPY a c DB -2147483649
        COPY a c DB
        COPY a c FOO
        COPY a c replace replace
        COPY nokey c
        COPY nokey nokey
        COPY nokey c REPLACE
        RPUSH l x y
        COPY l b REPLACE
        LRANGE b 0 -1
        TYPE b
        HSET h f v
        COPY h h2
        HGETALL h2
        SADD s m
        COPY s a REPLACE
        SMEMBERS a
        COPY a
    """,
    "wrong_types": """
        !list l
        !set st
        !hash h
        !zset z
        TYPE l
        TYPE st
        TYPE h
        TYPE z
        GET l
        SET l v GET
        SET l v NX GET
        GETSET l v
        APPEND l x
        STRLEN l
        INCR l
        DECR h
        INCRBY l 1
        INCRBY l abc
        DECRBY z 1
        INCRBYFLOAT l 1
        INCRBYFLOAT l abc
        GETRANGE l 0 1
        GETRANGE l abc 1
        SETBIT l 0 1
        SETBIT l abc 1
        GETBIT l 0
        GETBIT l abc
        BITCOUNT l
        BITCOUNT l abc def
        BITPOS l 1
        BITPOS l 2
        BITOP AND dest l
        BITOP OR dest k l
        BITOP FOO dest l
        SET ok \x01
        BITOP OR st ok
        TYPE st
        HGET l f
        HSET l f v
        HSET l f
        HSETNX l f v
        HMGET l f
        HDEL l f
        HLEN l
        HEXISTS l f
        HSTRLEN l f
        HGETALL l
        HKEYS l
        HVALS l
        HINCRBY l f 1
        HINCRBY l f abc
        HINCRBYFLOAT l f 1
        HINCRBYFLOAT l f abc
        HSCAN l 0
        HSCAN l abc
        SADD h x
        SREM h x
        SMEMBERS h
        SCARD h
        SISMEMBER h x
        SINTER st h
        SPOP h
        SSCAN h 0
        SMEMBERS st
        SADD st b
        set SMEMBERS st
        SCARD l
        SMOVE st l a
        LPUSH st x
        RPUSH h x
        LPUSHX st x
        LRANGE st 0 -1
        LRANGE st abc 1
        LLEN st
        LINDEX st 0
        LINDEX st abc
        LSET st 0 x
        LPOP st
        LPOP st 0
        RPOP h 1
        LREM st 0 x
        LTRIM st 0 1
        LINSERT st BEFORE a b
        LPOS st a
        LPOS st a RANK 0
        LMOVE st l LEFT LEFT
        LRANGE l 0 -1
        RPUSH l b
        LRANGE l 0 -1
        LMOVE l st LEFT LEFT
        RPOPLPUSH l l
        LRANGE l 0 -1
        HGET h f
        HGETALL h
        HSET h g w
        HGETALL h
        GET h
        APPEND h x
        BITCOUNT h
        SETRANGE l 0 x
        SETRANGE l 0 ""
        SETRANGE l -1 x
        GETDEL l
        GETEX l
        GETEX l EX abc
        GETEX l EX 0
        MGET l st k
        SETNX l v
        MSETNX l v
        EXISTS l st h z
        TTL l
        EXPIRE l 100
        ttl TTL l
        PERSIST l
        RENAME l l2
        TYPE l2
        TYPE l
        SET l2 v
        TYPE l2
        GET l2
        set KEYS *
        DBSIZE
        DEL st h
        TYPE st
    """,
    "expire_family": """
        SET k v
        EXPIRE k 100
        ttl TTL k
        pttl PTTL k
        EXPIRE k 100 NX
        EXPIRE k 200 XX
        EXPIRE k 50 GT
        EXPIRE k 500 GT
        ttl TTL k
        EXPIRE k 600 LT
        EXPIRE k 100 LT
        ttl TTL k
        PERSIST k
        PERSIST k
        TTL k
        EXPIRE k 100 GT
        EXPIRE k 100 LT
        PERSIST k
        EXPIRE k 100 XX
        EXPIRE k 100 NX
        EXPIRE k 100 nx xx
        EXPIRE k 100 NX GT
        EXPIRE k 100 NX LT
        EXPIRE k 100 GT LT
        EXPIRE k 150 XX GT
        EXPIRE k 300 GT GT
        EXPIRE k 100 foo
        EXPIRE k 100 nx\\x00bar
        EXPIRE k abc
        EXPIRE k abc foo
        EXPIRE k 1.5
        EXPIRE k 9223372036854775807
        EXPIRE k 9223372036854775
        EXPIRE k -9223372036854775
        EXISTS k
        SET k v
        EXPIRE k -9223372036854776
        EXPIRE k -9223372036854775808
        EXPIRE k 0
        EXISTS k
        SET k v
        EXPIRE k -1
        EXISTS k
        SET k v
        PEXPIRE k -100
        EXISTS k
        EXPIRE missing 100
        EXPIRE missing abc
        EXPIRE missing 9223372036854775807
        SET k v
        PEXPIRE k 9223372036854775807
        PEXPIRE k 100000
        pttl PTTL k
        EXPIREAT k 9223372036854775807
        EXPIREAT k 9223372036854775
        pttl PEXPIRETIME k
        ttl EXPIRETIME k
        PEXPIREAT k 9223372036854775807
        pttl PEXPIRETIME k
        EXPIREAT k {now_s+100}
        ttl EXPIRETIME k
        ttl TTL k
        PEXPIREAT k {now+100000}
        pttl PEXPIRETIME k
        PEXPIREAT k {now+200000} GT
        PEXPIREAT k {now+50000} GT
        PEXPIREAT k {now+50000} LT
        pttl PTTL k
        EXPIREAT k {now_s-10}
        EXISTS k
        SET k v
        PEXPIREAT k 0
        EXISTS k
        SET k v
        PEXPIREAT k -1
        TTL missing
        PTTL missing
        EXPIRETIME missing
        PEXPIRETIME missing
        SET p v
        TTL p
        PTTL p
        EXPIRETIME p
        PEXPIRETIME p
        PERSIST missing
        EXPIRE k
        EXPIRE
        TTL
        TTL a b
        PERSIST a b
    """,
    "getex_options": """
        SET k v
        GETEX k
        TTL k
        GETEX k EX 100
        ttl TTL k
        GETEX k PX 100000
        pttl PTTL k
        GETEX k EXAT {now_s+200}
        ttl TTL k
        GETEX k PXAT {now+300000}
        pttl PTTL k
        GETEX k PERSIST
        TTL k
        GETEX k EX 100 PX 100
        GETEX k PERSIST EX 10
        GETEX k EX 10 PERSIST
        GETEX k KEEPTTL
        GETEX k NX
        GETEX k GET
        GETEX k EX
        GETEX k EX abc
        GETEX k EX 0
        GETEX k EX -1
        GETEX k PX 9223372036854775807
        GETEX k EX 9223372036854775
        GETEX k EXAT 9223372036854775
        GETEX k PXAT 9223372036854775807
        pttl PTTL k
        GETEX k EX 100 EX 200
        ttl TTL k
        GETEX k PERSIST PERSIST
        GETEX missing EX abc
        GETEX missing EX 0
        GETEX missing FOO
        GETEX k EXAT 1
        EXISTS k
        SET k v
        GETEX k PXAT {now-1000}
        EXISTS k
        GETEX
    """,
    "keyspace_commands": """
        MSET a 1 b 2 c 3
        DEL a a b z
        EXISTS a b c c
        UNLINK c
        MSET a 1 b 2 c 3
        TOUCH a b c d
        TYPE a
        TYPE missing
        RENAME missing x
        RENAMENX missing x
        RENAME a a
        RENAMENX a a
        RENAMENX a b
        RENAME a b
        GET b
        EXISTS a
        SET a 1 EX 100
        RENAME a z
        ttl TTL z
        RENAMENX z y
        GET y
        set KEYS *
        set KEYS ?
        set KEYS [a-z]
        set KEYS *z*
        set KEYS y
        set KEYS nomatch
        DBSIZE
        random RANDOMKEY
        FLUSHDB ASYNC
        DBSIZE
        random RANDOMKEY
        FLUSHALL foo
        FLUSHALL SYNC ASYNC
        FLUSHDB async
        FLUSHALL sync
        FLUSHALL sync\\x00junk
        DBSIZE x
        RANDOMKEY x
        KEYS
        KEYS a b
        DEL
        RENAME a
        TYPE a b
    """,
    "scan_options": """
        MSET a 1 b 2 c 3 abc 4 xyz 5 key:1 6 key:2 7
        !list l
        scan
        scan COUNT 1
        scan COUNT 2 MATCH a*
        scan MATCH key:*
        scan MATCH * COUNT 1000
        scan TYPE string
        scan TYPE list
        scan TYPE LIST
        scan TYPE nosuch
        scan MATCH a* TYPE string COUNT 3
        scan MATCH a* MATCH b*
        SCAN abc
        SCAN 1.5
        SCAN \\x201
        SCAN 18446744073709551616
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT abc
        SCAN 0 COUNT
        SCAN 0 MATCH
        SCAN 0 FOO bar
        SCAN 0 TYPE
        SCAN abc COUNT 0
        SCAN
    """,
    "zset_algebra_numkeys_and_options": """
        ZADD z1 1 a 2 b 3 c
        ZADD z2 10 b 20 c 30 d
        SET str v
        RPUSH l a
        ZUNIONSTORE d 0 z1
        ZINTERSTORE d -1 z1
        ZDIFFSTORE d x z1
        ZUNION 01 z1
        ZINTER 0 z1
        ZDIFF -5 z1
        ZINTERCARD 0 z1
        ZUNIONSTORE d 3 z1 z2
        ZUNION 3 z1
        ZINTERCARD 2 z1
        ZUNION 9223372036854775807 z1
        ZUNION 9223372036854775808 z1
        ZUNIONSTORE d 2 z1 str
        ZUNIONSTORE d 2 z1 str WEIGHTS x
        ZINTER 2 nosuch l AGGREGATE foo
        ZDIFF 2 z1 str WITHSCORES
        ZUNIONSTORE d 2 z1 z2 WEIGHTS x
        ZUNIONSTORE d 2 z1 z2 WEIGHTS 1
        ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 nan
        ZUNION 2 z1 z2 WEIGHTS 1 1e999
        ZUNION 2 z1 z2 WEIGHTS 1 ""
        ZUNION 2 z1 z2 WEIGHTS 1 \x201
        ZUNION 2 z1 z2 WEIGHTS 1 2\x00
        ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 2 3
        ZUNIONSTORE d 2 z1 z2 AGGREGATE foo
        ZUNIONSTORE d 2 z1 z2 AGGREGATE
        ZUNIONSTORE d 2 z1 z2 WITHSCORES
        ZINTERSTORE d 2 z1 z2 WITHSCORES
        ZDIFFSTORE d 2 z1 z2 WITHSCORES
        ZDIFF 2 z1 z2 WEIGHTS 1 2
        ZDIFF 2 z1 z2 AGGREGATE SUM
        ZUNION 2 z1 z2 withscores WITHSCORES
        ZUNION 2 z1 z2 WEIGHTS 1 2 weights 3 4 WITHSCORES
        ZUNION 2 z1 z2 AGGREGATE min aggregate MAX WITHSCORES
        ZINTER 2 z1 z2 aggregate\x00x max WITHSCORES
        ZINTER 2 z1 z2 AGGREGATE sum\x00x WITHSCORES
        ZUNION 1 z1 LIMIT 1
        EXISTS d
        ZUNIONSTORE
        ZUNIONSTORE d 1
        ZUNION 1
        ZDIFF
    """,
    "zset_algebra_scores": """
        ZADD p inf a -inf b 0 c 1 d
        ZADD n -inf a inf b -0 c -1 d
        SADD s a b x 7
        ZUNION 2 p n WITHSCORES
        ZUNION 2 p n WEIGHTS 0 1 WITHSCORES
        ZUNION 2 p n WEIGHTS 0 0 WITHSCORES
        ZUNION 2 p n AGGREGATE MIN WITHSCORES
        ZUNION 2 p n AGGREGATE MAX WITHSCORES
        ZINTER 2 p n WITHSCORES
        ZINTER 2 p n WEIGHTS 0 1 WITHSCORES
        ZINTER 2 p n WEIGHTS 1 0 WITHSCORES
        ZINTER 2 p n WEIGHTS 1 0 AGGREGATE MIN WITHSCORES
        ZINTER 2 p n WEIGHTS 1 0 AGGREGATE MAX WITHSCORES
        ZINTER 2 p n WEIGHTS 0 1 AGGREGATE MAX WITHSCORES
        ZINTER 2 p p WITHSCORES
        ZINTER 2 p p AGGREGATE MIN WEIGHTS 1 0 WITHSCORES
        ZUNION 1 p WEIGHTS -1 WITHSCORES
        ZUNION 1 p WEIGHTS inf WITHSCORES
        ZUNION 1 p WEIGHTS -inf WITHSCORES
        ZUNION 2 p p WEIGHTS 1e308 1e308 WITHSCORES
        ZUNION 1 p WEIGHTS 0x10 WITHSCORES
        ZUNION 2 p s WITHSCORES
        ZUNION 2 s p WEIGHTS 2.5 1 WITHSCORES
        ZINTER 2 s p WITHSCORES
        ZINTER 2 s s WEIGHTS 1 -1 AGGREGATE MIN WITHSCORES
        ZDIFF 2 s p WITHSCORES
        ZDIFF 2 p s WITHSCORES
        ZUNION 1 s
        ZADD f 0.1 a 0.2 b
        ZADD g 0.2 a 0.3 b 0.4 c
        ZADD h 0.3 a
        ZUNION 3 f g h WITHSCORES
        ZUNION 3 h g f WITHSCORES
        ZINTER 3 g h f WITHSCORES
        ZINTER 3 f g h WEIGHTS 0.7 1.3 0.1 WITHSCORES
        ZUNION 3 f g h WEIGHTS 0.7 1.3 0.1 WITHSCORES
        ZUNION 3 f g h WEIGHTS 0.7 1.3 0.1 AGGREGATE MIN
        ZDIFF 2 g f WITHSCORES
        ZDIFF 3 g nosuch f
        ZDIFF 1 nosuch
        ZDIFF 2 nosuch g
        ZUNION 1 nosuch WITHSCORES
        ZINTER 2 g nosuch WITHSCORES
        ZINTER 1 g
    """,
    "zset_algebra_store": """
        ZADD z1 1 a 2 b 3 c
        ZADD z2 10 b 20 c 30 d
        SADD s a x
        SET d x EX 100
        ZUNIONSTORE d 2 z1 z2
        TTL d
        TYPE d
        ZRANGE d 0 -1 WITHSCORES
        ZINTERSTORE d 2 z1 z2 WEIGHTS 2 1 AGGREGATE MAX
        ZRANGE d 0 -1 WITHSCORES
        ZDIFFSTORE d 2 z1 z2
        ZRANGE d 0 -1 WITHSCORES
        ZUNIONSTORE d 2 z1 s
        ZRANGE d 0 -1 WITHSCORES
        EXPIRE d 100
        ZINTERSTORE d 2 z1 nosuch
        EXISTS d
        ZUNIONSTORE d 1 z1 WEIGHTS -1
        ZRANGE d 0 -1 WITHSCORES
        ZADD zero 0 m
        ZUNIONSTORE d 1 zero WEIGHTS -1
        ZSCORE d m
        ZUNION 1 zero WEIGHTS -1 WITHSCORES
        ZDIFFSTORE d 2 z1 z1
        EXISTS d
        ZUNIONSTORE z1 2 z1 z2
        ZRANGE z1 0 -1 WITHSCORES
        ZINTERSTORE z2 2 z1 z2 AGGREGATE MIN
        ZRANGE z2 0 -1 WITHSCORES
        ZDIFFSTORE s 1 s
        TYPE s
        SET str v
        ZUNIONSTORE str 1 z1
        TYPE str
        ZUNIONSTORE z1 2 z1 str
        ZRANGE z1 0 -1
        ZADD gone 1 a
        PEXPIREAT gone 1
        ZUNION 2 gone z2 WITHSCORES
        ZUNIONSTORE gone 1 gone
        EXISTS gone
    """,
    "zintercard_and_sintercard": """
        ZADD z1 1 a 2 b 3 c
        ZADD z2 10 b 20 c 30 d
        SADD s1 a b x
        SADD s2 b x y
        SET str v
        ZINTERCARD x z1
        ZINTERCARD 3 z1
        ZINTERCARD 2 z1 z2
        ZINTERCARD 2 z1 z2 LIMIT 1
        ZINTERCARD 2 z1 z2 limit 0
        ZINTERCARD 2 z1 z2 LIMIT 5 LIMIT 1
        ZINTERCARD 2 z1 z2 LIMIT -1
        ZINTERCARD 2 z1 z2 LIMIT x
        ZINTERCARD 2 z1 z2 LIMIT
        ZINTERCARD 2 z1 z2 WITHSCORES
        ZINTERCARD 2 z1 z2 WEIGHTS 1 2
        ZINTERCARD 2 z1 str LIMIT x
        ZINTERCARD 2 z1 s1
        ZINTERCARD 2 z1 nosuch
        ZINTERCARD 1 z1 LIMIT 9223372036854775807
        SINTERCARD 0 s1
        SINTERCARD x s1
        SINTERCARD -1 s1
        SINTERCARD 01 s1
        SINTERCARD 3 s1
        SINTERCARD 2 s1 s2
        SINTERCARD 2 s1 s2 LIMIT 1
        SINTERCARD 2 s1 s2 LIMIT 0
        SINTERCARD 2 s1 s1
        SINTERCARD 1 s1 LIMIT 2 limit 1
        SINTERCARD 2 s1 str
        SINTERCARD 2 s1 z1
        SINTERCARD 2 nosuch str
        SINTERCARD 2 s1 nosuch
        SINTERCARD 1 s1 LIMIT x
        SINTERCARD 1 s1 LIMIT -1
        SINTERCARD 1 s1 LIMIT
        SINTERCARD 1 s1 FOO 1
        SINTERCARD 1 str LIMIT x
        SINTERCARD 1
        SINTERCARD
    """,
    "zmpop": """
        ZADD z1 1 a 2 b 3 c
        ZADD z2 10 b 20 c
        SET str v
        ZMPOP 0 z1 MIN
        ZMPOP x z1 MIN
        ZMPOP -1 z1 MIN
        ZMPOP 2 z1 MIN
        ZMPOP 9223372036854775807 z1 MIN
        ZMPOP 1 z1 FOO
        ZMPOP 1 z1 MIN COUNT 0
        ZMPOP 1 z1 MIN COUNT -1
        ZMPOP 1 z1 MIN COUNT x
        ZMPOP 1 z1 MIN COUNT
        ZMPOP 1 z1 MIN COUNT 1 COUNT 1
        ZMPOP 1 z1 MIN FOO
        ZMPOP 1 str MIN COUNT 0
        ZMPOP 1 nosuch MIN
        ZMPOP 2 nosuch str MIN
        EXPIRE z1 100
        ZMPOP 2 nosuch z1 max COUNT 2
        ttl TTL z1
        ZMPOP 3 z1 str z2 min COUNT 5
        EXISTS z1
        ZMPOP 3 z1 str z2 min COUNT 5
        ZMPOP 2 z2 str MIN COUNT 9223372036854775807
        EXISTS z2
        ZMPOP 1
        ZMPOP 1 z1
    """,
    "lmpop": """
        RPUSH l1 a b c
        RPUSH l2 x y
        SET str v
        LMPOP 0 l1 LEFT
        LMPOP x l1 LEFT
        LMPOP 2 l1 LEFT
        LMPOP 9223372036854775807 l1 LEFT
        LMPOP 1 l1 FOO
        LMPOP 1 l1 LEFT COUNT 0
        LMPOP 1 l1 LEFT COUNT x
        LMPOP 1 l1 LEFT COUNT
        LMPOP 1 l1 LEFT COUNT 1 COUNT 1
        LMPOP 2 nosuch str LEFT
        EXPIRE l1 100
        LMPOP 2 nosuch l1 RIGHT COUNT 2
        ttl TTL l1
        LRANGE l1 0 -1
        LMPOP 3 l1 str l2 left COUNT 9
        EXISTS l1
        LMPOP 2 l1 l2 RIGHT
        LMPOP 1 l2 LEFT COUNT 9223372036854775807
        LMPOP 1 l2 LEFT
        LMPOP 1
    """,
    "expired_keys_are_invisible": """
        SET a 1 EX 100
        SET b 2
        PEXPIREAT a 1
        GET a
        EXISTS a
        DBSIZE
        set KEYS *
        scan
        SET c 3 PX 100000
        GETEX c PXAT 1
        DBSIZE
        random RANDOMKEY
        INCR a
        TTL a
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replies_match_redis_byte_for_byte(diff: Differential, name: str) -> None:
    assert run(diff, SCENARIOS[name], name) > 0


def test_negative_zero_scores_are_kept_once_a_set_outgrows_its_listpack(
    diff: Differential,
) -> None:
    """Redis keeps a score of -0 only in its big encoding: the 129th member converts the
    set, so members added from then on keep -0 and earlier ones read 0; a rank range of
    more than 128 starts big, a score range does not."""
    for i in range(140):
        diff.check(b"ZADD", b"grow", b"-0", b"m%d" % i)
    diff.check(b"ZADD", b"grow", b"-0", b"m5")
    diff.check(b"ZRANGE", b"grow", b"0", b"-1", b"WITHSCORES")
    diff.check(b"ZADD", b"at_once", *(part for i in range(140) for part in (b"-0", b"n%d" % i)))
    diff.check(b"ZRANGE", b"at_once", b"0", b"-1", b"WITHSCORES")
    diff.check(b"ZRANGESTORE", b"by_rank", b"grow", b"0", b"-1")
    diff.check(b"ZRANGE", b"by_rank", b"0", b"-1", b"WITHSCORES")
    diff.check(b"ZRANGESTORE", b"by_score", b"grow", b"-inf", b"+inf", b"BYSCORE")
    diff.check(b"ZRANGE", b"by_score", b"0", b"-1", b"WITHSCORES")
    diff.check(b"ZUNIONSTORE", b"union", b"1", b"grow")
    diff.check(b"ZRANGE", b"union", b"0", b"-1", b"WITHSCORES")
    for key in (b"grow", b"at_once", b"by_rank", b"by_score", b"union"):
        diff.check(b"DUMP", key)


def test_large_sorted_sets_reply_like_redis(diff: Differential) -> None:
    """Over 128 members (or one over 64 bytes) Redis switches to its skiplist encoding:
    the same order, ranks, ranges and scan contents (ZSCAN then takes several steps)."""
    pairs = [part for i in range(300) for part in (b"%d" % (i % 37), b"m%03d" % (i * 7 % 300))]
    diff.check(b"ZADD", b"big", *pairs)
    diff.check(b"ZADD", b"lex", *(part for i in range(150) for part in (b"0", b"w%d" % i)))
    diff.check(b"ZADD", b"long", b"1", b"x" * 65, b"2", b"y", b"0.5", b"z")
    diff.check(b"ZADD", b"big", b"INCR", b"2.5", b"m010")
    for key in (b"big", b"lex", b"long"):
        diff.check(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
        diff.check(b"ZRANGE", key, b"-5", b"-1", b"REV", b"WITHSCORES")
        diff.check_collection_scan(b"ZSCAN", key)
        diff.check_collection_scan(b"ZSCAN", key, b"MATCH", b"*1*")
        diff.check_pairs(b"ZRANDMEMBER", key, b"1000", b"WITHSCORES")
        diff.check(b"ZCARD", key)
    for args in (
        (b"ZRANK", b"big", b"m150"),
        (b"ZREVRANK", b"big", b"m150"),
        (b"ZCOUNT", b"big", b"(3", b"10"),
        (b"ZRANGEBYSCORE", b"big", b"(35", b"+inf", b"LIMIT", b"2", b"5"),
        (b"ZREVRANGEBYSCORE", b"big", b"+inf", b"(35", b"LIMIT", b"2", b"5"),
        (b"ZRANGEBYLEX", b"lex", b"[w10", b"(w2"),
        (b"ZREVRANGEBYLEX", b"lex", b"(w5", b"[w3", b"LIMIT", b"1", b"4"),
        (b"ZLEXCOUNT", b"lex", b"(w1", b"+"),
        (b"ZREMRANGEBYRANK", b"big", b"10", b"-100"),
        (b"ZREMRANGEBYSCORE", b"big", b"(30", b"33"),
        (b"ZREMRANGEBYLEX", b"lex", b"[w1", b"[w5"),
        (b"ZRANGESTORE", b"dst", b"big", b"0", b"99"),
        (b"ZCARD", b"dst"),
    ):
        diff.check(*args)
    diff.check(b"ZPOPMAX", b"big", b"3")
    diff.check(b"ZRANGE", b"big", b"0", b"-1", b"WITHSCORES")
    diff.check(b"ZRANGE", b"lex", b"0", b"-1", b"WITHSCORES")
