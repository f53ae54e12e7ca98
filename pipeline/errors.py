"""User-facing errors: the CLI prints them as one line and exits with their code."""


class UserError(Exception):
    """Bad input from the user (file, table, params, condition). Printed without a traceback."""

    exit_code = 2


class GateFailed(Exception):
    """The quality/privacy gate failed. Distinct exit code so CI can tell it from a crash."""

    exit_code = 3
