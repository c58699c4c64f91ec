"""``TokenStateCache``: used only while coherent, ttl-bounded, and never re-filled by a stale read."""

from __future__ import annotations

import uuid

from actors.identity.state_cache import TokenStateCache
from storage.repos.identity import TokenState

STATE = TokenState(
    session_revoked=False,
    token_revoked=False,
    user_id=uuid.uuid4(),
    user_role="user",
    user_disabled=False,
    client_id=None,
    client_role=None,
    client_disabled=False,
)
KEY = (uuid.uuid4(), uuid.uuid4())


def _cache(ttl_s: float = 30.0) -> tuple[TokenStateCache, list[float]]:
    now = [0.0]
    cache = TokenStateCache(ttl_s, clock=lambda: now[0])
    cache.coherent = True
    return cache, now


def test_hit_until_ttl() -> None:
    cache, now = _cache()
    cache.put(KEY, STATE, generation=cache.generation)
    assert cache.get(KEY) is STATE
    assert cache.get((KEY[0], uuid.uuid4())) is None  # another token of the same session
    now[0] = 30.0
    assert cache.get(KEY) is None


def test_bypassed_while_not_listening() -> None:
    cache, _ = _cache()
    cache.put(KEY, STATE, generation=cache.generation)
    cache.coherent = False
    assert cache.get(KEY) is None
    cache.put(KEY, STATE, generation=cache.generation)
    cache.coherent = True
    assert cache.get(KEY) is STATE  # put while incoherent was dropped; this is the earlier entry
    cache.clear()
    assert cache.get(KEY) is None


def test_a_read_that_raced_a_change_is_not_cached() -> None:
    cache, _ = _cache()
    generation = cache.generation  # a request starts reading the database
    cache.clear()  # a revocation is announced meanwhile
    cache.put(KEY, STATE, generation=generation)  # the read returns the old state
    assert cache.get(KEY) is None


def test_zero_ttl_disables() -> None:
    cache, _ = _cache(ttl_s=0)
    assert not cache.enabled
    cache.put(KEY, STATE, generation=cache.generation)
    assert cache.get(KEY) is None


def test_a_full_cache_evicts_its_oldest_entry_only() -> None:
    now = [0.0]
    cache = TokenStateCache(30.0, max_entries=3, clock=lambda: now[0])
    cache.coherent = True
    keys = [(uuid.uuid4(), uuid.uuid4()) for _ in range(4)]
    for key in keys:
        cache.put(key, STATE, generation=cache.generation)
    assert cache.get(keys[0]) is None
    assert all(cache.get(key) is STATE for key in keys[1:])
