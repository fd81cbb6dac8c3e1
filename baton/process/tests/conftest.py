import pytest

from baton.core.testing import factories as f
from baton.opportunities import services as opp_services
from baton.process.services import process_install_defaults


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def pipeline(db):
    p = opp_services.pipeline_ensure_default()
    process_install_defaults()
    return p


@pytest.fixture
def org(db):
    region = f.make_region()
    team = f.make_team(region=region)
    manager = f.make_user(roles=["manager"], team=team, region=region)
    team.manager = manager
    team.save()
    rep = f.make_user(roles=["rep"], team=team, manager=manager, region=region)
    return type("Org", (), {"team": team, "manager": manager, "rep": rep, "region": region})
