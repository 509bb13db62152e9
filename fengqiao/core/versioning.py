"""Process-local caches of configuration, rebuilt in every process when the configuration changes.

A writer calls `bump(key)` (after commit); each process keeps what it built together with the
version it saw and looks at the version again at most every `check_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def current_version(key: str) -> int:
    from fengqiao.core.models import ConfigVersion

    row = ConfigVersion.objects.filter(key=key).values_list("version", flat=True).first()
    return row or 0


def bump(key: str) -> None:
    """Mark configuration `key` as changed: for other processes once the transaction commits,
    for this one at once (a rolled-back change only costs it a rebuild)."""
    for cache in _caches.get(key, []):
        cache.invalidate()

    def _bump() -> None:
        from fengqiao.core.models import ConfigVersion

        updated = ConfigVersion.objects.filter(key=key).update(version=F("version") + 1)
        if not updated:
            ConfigVersion.objects.get_or_create(key=key, defaults={"version": 1})
        for cache in _caches.get(key, []):
            cache.invalidate()

    transaction.on_commit(_bump)


class VersionedCache(Generic[T]):
    def __init__(self, key: str, build: Callable[[], T], check_seconds: Callable[[], float]):
        self.key = key
        self._build = build
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version = -1
        self._checked_at = 0.0
        _caches.setdefault(key, []).append(self)

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
            self._version = -1

    def get(self) -> T:
        monotonic = time.monotonic()
        with self._lock:
            if self._value is not None and monotonic - self._checked_at < self._check_seconds():
                return self._value
            version = current_version(self.key)
            self._checked_at = monotonic
            if self._value is None or version != self._version:
                self._value = self._build()
                self._version = version
            return self._value


class Remembered(Generic[K, V]):
    """Values looked up one at a time, each kept per process once read, all forgotten when
    configuration `key` changes (a user's grants, a grid by its code, a category's time limit)."""

    def __init__(self, key: str):
        self._cache: VersionedCache[dict[K, V]] = VersionedCache(key, dict, lambda: settings.LOCATOR_CHECK_SECONDS)

    def get(self, name: K, load: Callable[[], V]) -> V:
        known = self._cache.get()
        if name not in known:
            known[name] = load()
        return known[name]


_caches: dict[str, list[VersionedCache]] = {}


def invalidate_all() -> None:
    """Forget every process-local cache (tests start each case from the database as it is)."""
    for caches in _caches.values():
        for cache in caches:
            cache.invalidate()
