"""The SMTP and Slack stand-ins for the outbound tests."""

from __future__ import annotations

import pytest

from tests.outbound.standins import SmtpServer, start_slack


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), up for the test."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    """A Slack incoming-webhook stand-in on 127.0.0.1."""
    state, server = start_slack()
    yield state
    server.shutdown()
    server.server_close()
