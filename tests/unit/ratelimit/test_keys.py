"""Counter keys: a client's value can neither move the hash tag nor merge two counters."""

from redis.crc import key_slot

from ratelimit.keys import counter_key


def test_values_cannot_break_out_of_the_hash_tag() -> None:
    key = counter_key("chaosgw:rl", "per-player", ["}evil{:x"])
    tag = key[key.index("{") + 1 : key.index("}")]
    assert key.count("{") == 1
    assert key.count("}") == 1
    assert "evil" in tag


def test_separators_in_values_do_not_merge_counters() -> None:
    assert counter_key("p", "pol", ["a:b", "c"]) != counter_key("p", "pol", ["a", "b:c"])


def test_long_values_become_a_fixed_size_digest() -> None:
    key = counter_key("p", "pol", ["x" * 10_000])
    assert len(key) < 100
    assert key != counter_key("p", "pol", ["x" * 10_001])


def test_both_windows_of_a_counter_share_a_slot() -> None:
    base = counter_key("chaosgw:rl", "per-player", ["42"])
    assert key_slot(f"{base}:1000".encode()) == key_slot(f"{base}:1001".encode())
