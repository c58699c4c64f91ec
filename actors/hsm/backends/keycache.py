"""The soft unit's cache of opened keys: one bounded LRU per unit process, shared by its slots.

Opening a blob costs two KDFs, a KImp15 and an engine key load (about a millisecond for GOST,
several times a signature and its self-check together). With a cache per slot, a unit of k slots
opened each hot key up to k times, and a workload spread over many keys (one key per user, each
signing now and then) missed in most slots most of the time: with 1,000 keys and 2 slots, a third
of the lone signatures paid an open. Opened keys are immutable and safe to use from several
threads at once (each operation makes its own native context), so the slots share one cache.

Two slots missing the same blob at once both open it and the second insert wins: harmless, and
cheaper than holding a lock across a millisecond of native work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final, Generic, TypeVar

_K = TypeVar("_K")

DEFAULT_SIZE: Final = 2048
"""Opened keys a soft unit keeps (shared by its slots: as many as two slots kept each before)."""


class KeyCache(Generic[_K]):
    """A thread-safe LRU of at most ``size`` opened keys, keyed by their exact blob bytes."""

    __slots__ = ("_entries", "_lock", "_size")

    def __init__(self, size: int) -> None:
        """``size``: entries kept (0 keeps none: every use opens the blob again)."""
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, _K] = OrderedDict()

    def get(self, blob: bytes) -> _K | None:
        """The opened key of ``blob`` (now the most recently used), or None."""
        with self._lock:
            key = self._entries.get(blob)
            if key is not None:
                self._entries.move_to_end(blob)
            return key

    def put(self, blob: bytes, key: _K) -> None:
        """Remember ``key`` as the opened ``blob``, evicting the least recently used beyond the size."""
        if self._size <= 0:
            return
        with self._lock:
            self._entries[blob] = key
            self._entries.move_to_end(blob)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every opened key (the engine frees them when collected)."""
        with self._lock:
            self._entries.clear()
