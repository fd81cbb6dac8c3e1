"""Django's SQLite backend with the writers of a process queued on a lock.

SQLite has one writer at a time. A second IMMEDIATE transaction that finds the write lock taken is retried
by SQLite's busy handler with sleeps of 1, 2, 5 … 100 ms, so under concurrent intake the waiters sleep past
the moment the lock frees and the slowest requests wait far longer than the work queued before them. The
threads of one process (the server's, the in-process worker's) queue on a lock here instead and start the
moment the previous writer commits; only writers of different processes still meet in SQLite's handler.
The wait is bounded by the connection's `timeout`; after it the transaction goes to SQLite as before.
"""

import threading

from django.db.backends.sqlite3 import base

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode == "IMMEDIATE" and not self._holds_writer:
            self._holds_writer = _writer.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self):
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
