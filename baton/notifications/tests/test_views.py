import pytest
from django.test import Client

from baton.core.testing.factories import make_user
from baton.notifications import services
from baton.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_bell_shows_unread_count_and_inbox_marks_read():
    rep = make_user()
    other = make_user()
    services.notify(users=[rep], title="线索超时 A", text="", link="/leads/1/", key="x1", bots_too=False)
    services.notify(users=[rep], title="线索超时 B", text="", key="x2", bots_too=False)
    services.notify(users=[other], title="别人的", text="", key="x3", bots_too=False)
    client = Client()
    client.force_login(rep)
    page = client.get("/notifications/").content.decode()
    assert 'id="unread-badge">2<' in page
    assert "线索超时 A" in page and "别人的" not in page
    one = Notification.objects.get(title="线索超时 A")
    client.post("/notifications/read/", {"id": one.pk})
    assert services.unread_count(rep) == 1
    client.post("/notifications/read/")
    page = client.get("/notifications/").content.decode()
    assert "unread-badge" not in page
    assert services.unread_count(other) == 1
