from baton.notifications.tests.conftest import bots, smtp  # noqa: F401 - the loopback bot and SMTP servers
