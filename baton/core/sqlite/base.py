"""Django's SQLite backend with writers queued on locks instead of SQLite's busy handler.

SQLite has one writer at a time. A second IMMEDIATE transaction that finds the write lock taken is retried
by SQLite's busy handler with sleeps of 1, 2, 5 … 100 ms, so under concurrent intake the waiters sleep past
the moment the lock frees, and the writers of a process that happens to hold it can pass it among
themselves while another process's writer sleeps (the slowest requests waited seconds). Here a writer
queues first on its process's lock (the server's threads, the in-process worker's), then on an advisory
file lock beside the database shared by every process (`flock`: the kernel wakes the next waiter when it is
released). Both are released when the transaction ends, however it ends. The process's wait is bounded by
the connection's `timeout`; after it the transaction goes to SQLite unqueued, as before.
"""

import fcntl
import os
import threading

from django.db.backends.sqlite3 import base

_writer = threading.Lock()
_file = {"pid": None, "path": None, "fd": None}  # this process's descriptor of the lock file


def _lock_fd(database: str) -> int | None:
    """The lock file's descriptor for this process (reopened after a fork: a descriptor inherited from the
    parent would share its lock), or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = f"{database}-writer.lock"
    if _file["pid"] != os.getpid() or _file["path"] != path:
        _file.update(pid=os.getpid(), path=path, fd=os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    return _file["fd"]


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    _holds_file = None

    def _start_transaction_under_autocommit(self):
        try:
            if self.transaction_mode == "IMMEDIATE" and not self._holds_writer:
                self._holds_writer = _writer.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
                if self._holds_writer:  # only the process's one writer waits for the other processes'
                    fd = _lock_fd(str(self.settings_dict["NAME"]))
                    if fd is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                        self._holds_file = fd
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self):
        if self._holds_file is not None:
            fd, self._holds_file = self._holds_file, None
            fcntl.flock(fd, fcntl.LOCK_UN)
        if self._holds_writer:
            self._holds_writer = False
            _writer.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
