"""Open rasters kept for the tiles that follow: opening a GeoTIFF (and reading its directory
and statistics) costs more than reading one tile of it, and a map asks for dozens at a time.

A rasterio dataset is not safe to share between threads, so each open dataset has its own lock
and is used by one request at a time; the cache holds a bounded number, closing the least
recently used. A file is known by its path, size and modification time, so a raster rewritten
in place is opened again rather than read stale.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import rasterio
from rasterio.errors import NotGeoreferencedWarning

Value = TypeVar("Value")


@dataclass(frozen=True)
class FileKey:
    """A file as it is now: a rewrite gives another key."""

    path: str
    size: int
    mtime_ns: int


def file_key(path: Path) -> FileKey:
    stat = path.stat()
    return FileKey(str(path), stat.st_size, stat.st_mtime_ns)


class LruCache(Generic[Value]):
    """A thread-safe mapping that keeps the `capacity` most recently used values and hands the
    ones it drops to `on_evict`."""

    def __init__(self, capacity: int, on_evict: Callable[[Value], None] | None = None) -> None:
        self.capacity = capacity
        self.on_evict = on_evict
        self._items: OrderedDict[object, Value] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> Value | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: object, value: Value) -> Value:
        """Store `value` unless another thread stored one first; the stored one is returned."""
        dropped: list[Value] = []
        with self._lock:
            existing = self._items.get(key)
            if existing is not None:
                self._items.move_to_end(key)
                return existing
            self._items[key] = value
            while len(self._items) > self.capacity:
                dropped.append(self._items.popitem(last=False)[1])
        for old in dropped:
            if self.on_evict is not None:
                self.on_evict(old)
        return value

    def clear(self) -> None:
        with self._lock:
            dropped = list(self._items.values())
            self._items.clear()
        for old in dropped:
            if self.on_evict is not None:
                self.on_evict(old)


@dataclass
class OpenDataset:
    """One open dataset and the lock that gives it to one thread at a time."""

    dataset: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.dataset.close()


def open_quietly(path: Path, overview_level: int | None = None) -> Any:
    """rasterio.open for reading, at an overview level if given, without the warning about a
    missing geotransform (such a raster is left off the map, with a reason)."""
    options: dict[str, Any] = {}
    if overview_level is not None:
        options["overview_level"] = overview_level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path, **options)


class DatasetCache:
    """Open datasets by (file, overview level), at most `capacity` of them."""

    def __init__(self, capacity: int = 16) -> None:
        self._open: LruCache[OpenDataset] = LruCache(capacity, on_evict=OpenDataset.close)

    @contextmanager
    def dataset(self, key: FileKey, overview_level: int | None = None) -> Iterator[Any]:
        """The open dataset of `key`, held by this thread until the block ends."""
        while True:
            slot = self._open.get((key, overview_level))
            if slot is None:
                opened = OpenDataset(open_quietly(Path(key.path), overview_level))
                slot = self._open.put((key, overview_level), opened)
                if slot is not opened:
                    opened.close()
            with slot.lock:
                if slot.closed:  # dropped by another thread between get and lock: open again
                    continue
                yield slot.dataset
                return

    def close(self) -> None:
        self._open.clear()
