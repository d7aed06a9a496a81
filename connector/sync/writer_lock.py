"""One writer per ledger: an OS file lock next to the state DB.

Dagster's run queue (a concurrency pool at run granularity) keeps scheduled runs, UI runs and
backfills apart; this lock is the guarantee underneath it, for ``dagster job execute`` and
anything else that bypasses the queue. The kernel releases it when the holder dies, so a
killed run never leaves the ledger locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connector.errors import FatalSyncError


def lock_path(state_path: str | os.PathLike) -> Path:
    return Path(f"{state_path}.writer.lock")


@contextmanager
def writer_lock(state_path: str | os.PathLike, *, run_id: str, wait_seconds: float = 0.0,
                poll: float = 1.0) -> Iterator[None]:
    path = lock_path(state_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    raise FatalSyncError(
                        f"another run is writing to Coverbase with this ledger ({path}): {holder}. Two runs must "
                        "never write at the same time; this run stops before writing anything.") from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "run_id": run_id,
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
        return f"run {info.get('run_id')} (pid {info.get('pid')}) since {info.get('since')}"
    except (OSError, ValueError):
        return "holder unknown"
