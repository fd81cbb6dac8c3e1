from django.conf import settings
from django.utils.translation import gettext as _

from baton.core.errors import ValidationFailed
from baton.core.models import ChangeSource
from baton.core.services import update_object


def user_set_language(*, user, language: str, actor, source=ChangeSource.UI) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationFailed(errors=[("language", _("Unknown language."))])
    update_object(user, actor=actor, source=source, data={"language": language}, check_scope=False)
