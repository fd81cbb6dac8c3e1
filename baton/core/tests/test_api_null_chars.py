"""Text with a NUL character is refused as a field error on both databases (PostgreSQL cannot store it)."""

import pytest

from baton.core.testing import factories as f
from baton.core.testing.api import ApiClient
from baton.leads.models import Lead


@pytest.mark.django_db
def test_null_character_in_a_text_field_is_a_422_naming_the_field():
    user = f.make_user(roles=["ops"])
    api = ApiClient(user)
    response = api.post("/api/leads", {"company": "Acme\x00 Ltd", "contact_name": "王"})
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert "company" in fields
    assert not Lead.objects.exists()
