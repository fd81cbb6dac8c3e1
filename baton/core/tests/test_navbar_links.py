"""The navigation offers only pages the signed-in user may open: every link in the menus answers, for each role
that sees it, with a page (never 403 or 404)."""

import re

import pytest

from baton.core.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("roles", [("rep",), ("manager",), ("director",), ("ops",), ("finance",), ("mentor",),
                                   ("superuser",), ("manager", "with a team")])
def test_every_menu_link_opens_for_the_user_it_is_shown_to(client, roles):
    if roles == ("superuser",):
        user = f.user("nav_root", roles=(), is_superuser=True)
    elif "with a team" in roles:
        user = f.make_user(username="nav_lead", roles=["manager"], team=f.team())
    else:
        user = f.user(f"nav_{roles[0]}", roles=roles)
    client.force_login(user)
    home = client.get("/")
    assert home.status_code == 200
    nav = home.content.decode().split('id="navbar-menu"')[-1].split("</header>")[0]
    links = sorted(set(re.findall(r'href="(/[^"#?]*)"', nav)))
    assert links
    refused = {link: client.get(link).status_code for link in links}
    refused = {link: code for link, code in refused.items() if code not in (200, 302)}
    assert refused == {}, " ".join(sorted(refused))
    if user.team_id:
        assert "/process/team/" in links
