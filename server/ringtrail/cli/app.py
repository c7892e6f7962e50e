"""What every ``ringtrail`` subcommand shares: the app context, and refusals as messages
with exit codes.

Exit codes: 0 done; 1 refused (the input was invalid, clashed with what exists, or is
not allowed); 2 wrong usage (click's own); 3 not found; 4 a store or the carrier is
unavailable: the same command may work later.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import click
from flask import has_app_context
from flask.cli import ScriptInfo
from marshmallow import ValidationError

from ringtrail import errors

EXIT_CODES: dict[type[errors.RingtrailError], int] = {
    errors.NotFound: 3,
    errors.Unavailable: 4,
    errors.RingtrailError: 1,
}


def exit_code_of(exc: errors.RingtrailError) -> int:
    """The exit code of a refusal."""
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


class Refused(click.ClickException):
    """A refusal, as click prints it: ``Error: reason``, with its exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def refusal(exc: Exception) -> Refused:
    """A service's refusal, or a schema's, as a one-line message and an exit code."""
    if isinstance(exc, ValidationError):
        reasons = [f"{k}: {'; '.join(map(str, v))}" for k, v in exc.normalized_messages().items()]
        return Refused("; ".join(reasons))
    assert isinstance(exc, errors.RingtrailError)
    return Refused(exc.reason, exit_code_of(exc))


class Group(click.Group):
    """A command group whose commands' refusals become messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (errors.RingtrailError, ValidationError) as exc:
            raise refusal(exc) from None


@contextlib.contextmanager
def app_context() -> Iterator[None]:
    """The app's context: the one already pushed, or the app a caller handed click (Flask's
    ``app.test_cli_runner()`` does), else a new app built from RINGTRAIL_*."""
    if has_app_context():
        yield
        return
    ctx = click.get_current_context(silent=True)
    script = ctx.find_object(ScriptInfo) if ctx is not None else None
    if script is not None and script.create_app is not None:
        with script.load_app().app_context():
            yield
        return
    from ringtrail import create_app

    app = create_app()
    try:
        with app.app_context():
            yield
    finally:
        app.extensions["ringtrail"]["engine"].dispose()


def with_app(command: Callable) -> Callable:
    """Run the command inside the app's context."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with app_context():
            return command(*args, **kwargs)

    return wrapper


class AppGroup(Group):
    """A group whose commands run inside the app's context."""

    def invoke(self, ctx: click.Context) -> Any:
        with app_context():
            return super().invoke(ctx)
