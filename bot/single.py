"""One process per SQLite file: a second bot on the same file would fire every deadline twice.

`liaison run` and `liaison console` hold an exclusive `flock` on a lock file beside the database
(`liaison.db.lock`) for as long as they run. The kernel drops the lock when the process ends,
however it ends (kill -9 included), so a dead process never blocks the next start and there is
no stale lock to clean up; the file itself stays, empty of meaning. Read-only commands
(`liaison outbox failed`, `liaison map export`, `liaison db current`) take no lock.
PostgreSQL needs none: replicas share it (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.engine import is_sqlite


class Taken(Exception):
    """Another process already serves this SQLite file; the message says what to do."""


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite database URL (None for PostgreSQL or an in-memory database)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def sole_process(url: str) -> Iterator[None]:
    """Hold the database's lock file while the block runs, or raise Taken at once."""
    path = lock_path(url)
    if path is None or not path.parent.is_dir():
        # A missing directory is the database's own error to report, in its own words.
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            raise Taken(
                f"another Liaison process{f' (pid {holder})' if holder.isdigit() else ''} "
                f"is running on {path.with_suffix('')}: a SQLite database serves one bot "
                "process; stop it first, or move to PostgreSQL to run several "
                "(read-only commands such as `liaison outbox failed` still work)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Closing the descriptor releases the lock; the kernel does the same for a killed one.
        os.close(fd)
