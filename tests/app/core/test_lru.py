"""The one LRU: bounds by count, weight and age, on a fake clock; eviction callbacks; many threads at once."""

from __future__ import annotations

import threading

import pytest

from backprop_lens.app.core.lru import LRU


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_goes_first_and_get_is_a_use() -> None:
    gone: list[tuple[str, int]] = []
    lru: LRU[str, int] = LRU(2, on_evict=lambda k, v: gone.append((k, v)))
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)
    assert (lru.peek("b"), lru.peek("a"), lru.peek("c"), len(lru)) == (None, 1, 3, 2)
    assert gone == [("b", 2)]
    assert lru.peek("a") == 1 and lru.values() == [1, 3]  # peek is no use: a is still the least recent
    lru.put("d", 4)
    assert "a" not in lru and gone[-1] == ("a", 1)


def test_replacing_a_key_keeps_one_entry_and_pop_tells_no_one() -> None:
    gone: list[str] = []
    lru: LRU[str, str] = LRU(3, on_evict=lambda k, _: gone.append(k))
    lru.put("a", "x")
    lru.put("a", "y")
    assert len(lru) == 1 and lru.get("a") == "y"
    assert lru.pop("a") == "y" and lru.pop("a") is None and gone == []


def test_weight_bounds_the_sum_and_a_value_too_heavy_alone_is_not_kept() -> None:
    lru: LRU[int, str] = LRU(max_weight=10, weigh=len)
    lru.put(1, "aaaa")
    lru.put(2, "bbbb")
    assert lru.weight == 8
    lru.put(3, "cccc")  # 12 > 10: the oldest goes
    assert (lru.peek(1), lru.weight) == (None, 8)
    lru.put(4, "d" * 11)
    assert lru.peek(4) is None and lru.weight == 8 and len(lru) == 2
    lru.put(2, "b")  # a lighter value under the same key
    assert lru.weight == 5


def test_an_entry_lives_ttl_seconds_after_its_last_use() -> None:
    clock = Clock()
    gone: list[str] = []
    lru: LRU[str, int] = LRU(10, ttl_seconds=60, clock=clock, on_evict=lambda k, _: gone.append(k))
    lru.put("a", 1)
    lru.put("b", 2)
    clock.now = 50
    assert lru.get("a") == 1  # restarts a's time to live
    clock.now = 70
    assert (lru.peek("b"), lru.peek("a")) == (None, 1) and gone == ["b"]
    clock.now = 109.9
    assert lru.peek("a") == 1
    clock.now = 110
    assert lru.peek("a") is None and len(lru) == 0


def test_bounds_need_both_weight_and_weigher() -> None:
    with pytest.raises(ValueError, match="give both"):
        LRU(max_weight=3)


def test_many_threads_keep_the_bounds() -> None:
    lru: LRU[int, int] = LRU(50, max_weight=400, weigh=lambda v: v % 17)
    errors: list[str] = []

    def work(seed: int) -> None:
        for i in range(2000):
            key = (seed * 7919 + i * 31) % 200
            if i % 3:
                lru.put(key, key)
            else:
                value = lru.get(key)
                if value is not None and value != key:
                    errors.append(f"{key} -> {value}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = lru.values()
    assert errors == [] and len(values) <= 50
    assert lru.weight == sum(v % 17 for v in values) <= 400
