"""Fixtures for the hidden checks (this process is the judge: it imports no candidate code).

The behaviour checks get the candidate's package imported in a fresh candidate host, in whichever
order works, so they judge behaviour and not import order (the startup check covers that).
"""

from __future__ import annotations

import pytest
from shop_host import Shop, load_shop


@pytest.fixture
def shop(hosts) -> Shop:
    """Handles to the candidate's ``shop`` modules, imported in a fresh host."""
    return load_shop(hosts)
