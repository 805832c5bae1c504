"""Draft versions: a save based on an older copy than the server's is refused, never silent."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Draft


@pytest.fixture
def url(client, invite):
    assert client.post(f"/api/v1/invites/{invite.token}/start").status_code == 200
    return f"/api/v1/invites/{invite.token}/challenges/trivial-sum"


def _save(client, url, text, **extra):
    return client.put(f"{url}/draft", json={"files": {"calc.py": text}, **extra})


def _saved_text(client, url) -> str:
    return client.get(url).get_json()["files"][0]["content"]


def test_each_save_names_the_next_version_and_the_page_data_the_current_one(client, url):
    assert client.get(url).get_json()["draft_version"] == 0
    first = _save(client, url, "# one\n", base_version=0)
    assert first.status_code == 200 and first.get_json()["version"] == 1
    second = _save(client, url, "# two\n", base_version=1)
    assert second.get_json()["version"] == 2
    assert client.get(url).get_json()["draft_version"] == 2


def test_a_stale_save_from_a_second_tab_is_refused_and_changes_nothing(client, url):
    _save(client, url, "# first tab\n", base_version=0)  # both tabs loaded version 0
    _save(client, url, "# first tab, later\n", base_version=1)

    stale = _save(client, url, "# second tab\n", base_version=0)

    assert stale.status_code == 409
    body = stale.get_json()
    assert "another tab" in body["error"] and "Reload" in body["error"]
    assert body["current_version"] == 2 and body["saved_at"].endswith("Z")
    assert _saved_text(client, url) == "# first tab, later\n"


def test_the_second_tab_may_choose_to_overwrite(client, url):
    _save(client, url, "# first tab\n", base_version=0)
    kept = _save(client, url, "# second tab\n", base_version=0, overwrite=True)
    assert kept.status_code == 200 and kept.get_json()["version"] == 2
    assert _saved_text(client, url) == "# second tab\n"


def test_the_first_save_of_two_tabs_wins_and_the_other_is_told(client, url):
    assert _save(client, url, "# tab A\n", base_version=0).status_code == 200
    late = _save(client, url, "# tab B\n", base_version=0)
    assert late.status_code == 409 and late.get_json()["current_version"] == 1
    assert _saved_text(client, url) == "# tab A\n"


def test_a_first_save_is_kept_whatever_version_it_names(client, url):
    """With nothing saved there is nothing to overwrite: a save naming a version the server
    never had is stored, not refused as stale."""
    response = _save(client, url, "# first\n", base_version=7)
    assert response.status_code == 200 and response.get_json()["version"] == 1
    assert _saved_text(client, url) == "# first\n"


def test_a_client_that_sends_no_version_saves_unconditionally(client, url):
    _save(client, url, "# one\n", base_version=0)
    response = _save(client, url, "# api client\n")
    assert response.status_code == 200 and response.get_json()["version"] == 2
    assert _saved_text(client, url) == "# api client\n"


@pytest.mark.parametrize("bad", [-1, "1", 1.5, True, [1]])
def test_a_malformed_base_version_is_a_clear_400(client, url, bad):
    response = _save(client, url, "# x\n", base_version=bad)
    assert response.status_code == 400
    assert "base_version" in response.get_json()["error"]
    assert db.session.query(Draft).count() == 0


def test_the_editor_gets_the_starter_text_of_each_editable_file_for_a_reset(client, url, invite):
    _save(client, url, "# mine\n", base_version=0)
    (entry,) = client.get(url).get_json()["files"]
    starter = invite.assessment.items[0].challenge.payload["starter"]["calc.py"]
    assert entry["content"] == "# mine\n" and entry["starter"] == starter
