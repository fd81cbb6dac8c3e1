"""`baton.core.sqlite`: the process's writers queue on one lock, which every way out of a transaction frees
(a lock left held would stall every later writer of the process for the whole timeout)."""

import threading

import pytest
from django.db import connection, transaction

from baton.core.models import ConfigStamp

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend's own lock")]


def _lock():
    from baton.core.sqlite.base import _writer

    return _writer


def test_commit_rollback_and_errors_free_the_writer_lock():
    with transaction.atomic():
        ConfigStamp.objects.create(key="a", token="1")
        assert _lock().locked()
    assert not _lock().locked()

    with pytest.raises(RuntimeError), transaction.atomic():
        ConfigStamp.objects.create(key="b", token="2")
        raise RuntimeError("rolled back")
    assert not _lock().locked()
    assert list(ConfigStamp.objects.values_list("key", flat=True)) == ["a"]


def test_a_second_thread_writes_as_soon_as_the_first_commits():
    order = []
    inside = threading.Event()

    def other():
        inside.wait()
        with transaction.atomic():  # queues on the lock while the main thread's transaction is open
            order.append("other")
            ConfigStamp.objects.create(key="other", token="2")
        connection.close()

    t = threading.Thread(target=other)
    t.start()
    with transaction.atomic():
        ConfigStamp.objects.create(key="main", token="1")
        inside.set()
        t.join(0.3)  # the other writer cannot start while this transaction holds the lock
        order.append("main")
    t.join(10)
    assert order == ["main", "other"]
    assert set(ConfigStamp.objects.values_list("key", flat=True)) == {"main", "other"}


def test_other_processes_wait_on_the_lock_file_while_a_transaction_is_open():
    import fcntl
    import os

    path = f"{connection.settings_dict['NAME']}-writer.lock"

    def free_for_another_process() -> bool:
        fd = os.open(path, os.O_RDWR | os.O_CREAT)  # a descriptor of its own, as another process has
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    with transaction.atomic():
        ConfigStamp.objects.create(key="a", token="1")
        assert not free_for_another_process()
    assert free_for_another_process()
    with pytest.raises(RuntimeError), transaction.atomic():
        ConfigStamp.objects.create(key="b", token="2")
        assert not free_for_another_process()
        raise RuntimeError("rolled back")
    assert free_for_another_process()
