"""Domain errors that views turn into GOV.UK error summaries or RFC 9457 problem JSON."""

from __future__ import annotations


class HubError(Exception):
    """Base of errors a person or API client is meant to read."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(HubError):
    """Input broke a rule; nothing was changed."""

    status = 422
    title = "Invalid input"

    def __init__(self, errors: dict[str, str] | str, *, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {field or "_": errors}
        self.errors = errors
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)


class BadBody(HubError):
    """The request body cannot be read (JSON too deep, a number too large, not UTF-8)."""

    status = 400
    title = "Bad request"


class NotFound(HubError):
    status = 404
    title = "Not found"


class Forbidden(HubError):
    status = 403
    title = "Forbidden"


class Conflict(HubError):
    """The thing changed underneath the request (a stale version, a duplicate)."""

    status = 409
    title = "Conflict"


class StepUpRequired(HubError):
    """A sensitive action needs a sign-in within the last ``minutes``; the person signs in again."""

    status = 401
    title = "Sign in again to continue"

    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"For this action you need to have signed in within the last {minutes} minutes."
        )
        self.minutes = minutes


#: The one message a person gets for a case they may not learn exists, and for one that does
#: not exist: the two must be indistinguishable.
NO_SUCH_CASE = "There is no such case."


class Refused(Exception):
    """The disclosure gate refused a read or a write on a case.

    Deliberately not a ``HubError``: views catch ``HubError`` to show a message and go on,
    and a refusal must never turn into a flash message that names the case. The shell
    renders it as a 404 when the person must not learn that the case exists (``conceal``),
    else as a 403. The gate has already written the refusal into the ledger.
    """

    def __init__(self, message: str, *, conceal: bool, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.conceal = conceal
        self.code = code

    @property
    def status(self) -> int:
        return 404 if self.conceal else 403

    @property
    def title(self) -> str:
        return "Not found" if self.conceal else "Forbidden"
