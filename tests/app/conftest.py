from __future__ import annotations

import pytest

from app import create_app

from ..conftest import FIXTURE_CHALLENGES


@pytest.fixture
def fixture_app():
    return create_app({"TESTING": True, "CHALLENGES_DIR": FIXTURE_CHALLENGES})


@pytest.fixture
def cli(fixture_app):
    runner = fixture_app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke
