"""One exception type whose message says what is wrong and what to do."""


class WarehouseError(RuntimeError):
    """A problem with the warehouse the operator can fix; the message names it and the fix."""
