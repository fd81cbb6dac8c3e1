"""Domain errors: raised by services, turned into 4xx answers by the API and into form errors by the UI."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A refused state change. `errors` is a list of (field, message); field may be None."""

    status_code = 400
    default_message = _("The request was refused.")

    def __init__(self, message=None, *, errors=None, code: str = "refused"):
        self.message = message or self.default_message
        self.errors = list(errors or [])
        self.code = code
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    status_code = 422
    default_message = _("Some values are not valid.")


class NotFound(DomainError):
    status_code = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    status_code = 403
    default_message = _("You are not allowed to do this.")


class Conflict(DomainError):
    status_code = 409
    default_message = _("The request conflicts with the current state.")
