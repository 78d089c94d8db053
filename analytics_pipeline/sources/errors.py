"""Errors of the sources layer: each message names the endpoint and the cause, never the token."""


class SourceError(RuntimeError):
    """The LMS API could not be read; the message says which endpoint and why."""


class AuthenticationError(SourceError):
    """The API refused the bearer token (401/403). Never retried."""


class CursorLoopError(SourceError):
    """The API returned a cursor already seen in this pagination."""


class TransientSourceError(SourceError):
    """A failure that may pass on a retry: 5xx, 429, a dropped connection, a cut or malformed body.

    ``retry_after`` holds the seconds the server asked us to wait (429 ``Retry-After``), if any.
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhaustedError(SourceError):
    """Transient failures went on past the retry time budget."""
