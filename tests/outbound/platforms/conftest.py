"""The Google stand-in (OAuth, Data Manager API, GA4 Measurement Protocol) and the app
pointed at it."""

from __future__ import annotations

import pytest

from tests.standins.google import start_google


@pytest.fixture
def google():
    state, server = start_google()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(app_config, google):
    return app_config | {
        "GOOGLE_DATAMANAGER_URL": google.url,
        "GOOGLE_TOKEN_URL": google.url + "/token",
        "GOOGLE_ANALYTICS_URL": google.url,
        "UPLOAD_TIMEOUT": 10.0,  # generous: the machine is shared; the timeout test sets 1 s
    }
