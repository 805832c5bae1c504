"""Admin user management: list, create, activate/deactivate, reset password, change role."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import User

from .conftest import STAFF_PASSWORD, log_in

NEW_PASSWORD = "a brand new password"


def _login_works(app, email: str, password: str) -> bool:
    """Whether logging in works, tried from another browser."""
    response = app.test_client().post("/login", data={"email": email, "password": password})
    return response.status_code == 302 and "/login" not in response.location


def _shown_password(html: str) -> str:
    match = re.search(r"<code data-copy>([^<]+)</code>", html)
    assert match, html
    return match.group(1)


def _form_errors(html: str) -> str:
    """The text of the errors shown on a form (field errors and the form's own)."""
    found = re.findall(r'class="(?:field-error|notice notice-error)"[^>]*>([^<]*)<', html)
    return " | ".join(found)


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_user_pages_are_for_admins_only(client, staff):
    anonymous = client.get("/admin/users")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    log_in(client, staff.interviewer)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    refused = client.post(f"/admin/users/{staff.other_interviewer.id}/active", data={"active": "0"})
    assert refused.status_code == 403
    assert _user(staff.other_interviewer.email).active


def test_the_list_shows_every_account_with_role_and_state(client, staff):
    staff.other_interviewer.active = False
    db.session.commit()
    log_in(client, staff.admin)
    page = client.get("/admin/users").get_data(as_text=True)
    for user in (staff.admin, staff.interviewer, staff.other_interviewer):
        assert user.email in page and user.name in page
    row = page[page.index(staff.other_interviewer.email) :].split("</tr>")[0]
    assert "deactivated" in row and "Activate" in row


def test_an_admin_creates_a_user_with_a_chosen_password(client, staff):
    log_in(client, staff.admin)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Nia@Example.com",
            "name": "Nia",
            "role": "interviewer",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert client.get(response.location).status_code == 200
    created = _user("nia@example.com")
    assert created.role == "interviewer" and created.active and created.name == "Nia"
    assert _login_works(client.application, "nia@example.com", NEW_PASSWORD)


def test_an_empty_password_is_generated_and_shown_once(client, staff):
    log_in(client, staff.admin)
    response = client.post(
        "/admin/users/new", data={"email": "gen@example.com", "name": "", "role": "admin"}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    password = _shown_password(response.get_data(as_text=True))
    assert len(password) >= 12
    assert password not in client.get("/admin/users").get_data(as_text=True)
    assert _user("gen@example.com").role == "admin"
    assert _login_works(client.application, "gen@example.com", password)


def test_bad_new_users_are_refused_on_the_form_and_nothing_is_created(client, staff):
    log_in(client, staff.admin)
    before = db.session.scalar(select(func.count()).select_from(User))
    cases = [
        ({"email": staff.interviewer.email.upper(), "role": "admin"}, "already exists"),
        ({"email": "short@example.com", "role": "admin", "password": "short"}, "12 to 1024"),
        ({"email": "nope", "role": "admin", "password": NEW_PASSWORD}, "not an email"),
        ({"email": "role@example.com", "role": "boss", "password": NEW_PASSWORD}, "Not a valid"),
        ({"email": "", "role": "admin"}, "This field is required"),
    ]
    for data, message in cases:
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 422, data
        assert message in _form_errors(response.get_data(as_text=True)), data
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_a_deactivated_user_cannot_log_in_until_activated_again(client, staff):
    log_in(client, staff.admin)
    target = staff.interviewer
    response = client.post(f"/admin/users/{target.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert not _user(target.email).active
    assert not _login_works(client.application, target.email, STAFF_PASSWORD)
    client.post(f"/admin/users/{target.id}/active", data={"active": "1"})
    assert _user(target.email).active
    assert _login_works(client.application, target.email, STAFF_PASSWORD)


def test_deactivation_ends_an_open_session(client, staff):
    interviewer = client.application.test_client()
    log_in(interviewer, staff.interviewer)
    assert interviewer.get("/review/").status_code == 200
    log_in(client, staff.admin)
    client.post(f"/admin/users/{staff.interviewer.id}/active", data={"active": "0"})
    follow = interviewer.get("/review/")
    assert follow.status_code == 302 and "/login" in follow.location


def test_an_admin_cannot_deactivate_themselves(client, staff):
    log_in(client, staff.admin)
    response = client.post(
        f"/admin/users/{staff.admin.id}/active", data={"active": "0"}, follow_redirects=True
    )
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    assert _user(staff.admin.email).active


def test_the_last_active_admin_keeps_the_admin_role(client, staff):
    log_in(client, staff.admin)
    response = client.post(
        f"/admin/users/{staff.admin.id}/role", data={"role": "interviewer"}, follow_redirects=True
    )
    assert "is the last active admin" in response.get_data(as_text=True)
    assert _user(staff.admin.email).role == "admin"


def test_an_inactive_admin_does_not_count_as_the_remaining_admin(client, staff):
    staff.interviewer.role = "admin"
    staff.interviewer.active = False
    db.session.commit()
    log_in(client, staff.admin)
    response = client.post(
        f"/admin/users/{staff.admin.id}/role", data={"role": "interviewer"}, follow_redirects=True
    )
    assert "is the last active admin" in response.get_data(as_text=True)
    assert _user(staff.admin.email).role == "admin"


def test_with_another_admin_an_admin_may_step_down(client, staff):
    log_in(client, staff.admin)
    client.post(f"/admin/users/{staff.interviewer.id}/role", data={"role": "admin"})
    assert _user(staff.interviewer.email).role == "admin"
    response = client.post(f"/admin/users/{staff.admin.id}/role", data={"role": "interviewer"})
    assert response.status_code == 303 and response.location.endswith("/review/")
    assert _user(staff.admin.email).role == "interviewer"
    assert client.get("/admin/users").status_code == 403


def test_an_admin_deactivates_another_admin(client, staff):
    staff.interviewer.role = "admin"
    db.session.commit()
    log_in(client, staff.admin)
    client.post(f"/admin/users/{staff.interviewer.id}/active", data={"active": "0"})
    assert not _user(staff.interviewer.email).active


def test_a_password_reset_shows_a_one_time_password_and_the_old_one_stops_working(client, staff):
    log_in(client, staff.admin)
    response = client.post(f"/admin/users/{staff.interviewer.id}/password")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = _shown_password(response.get_data(as_text=True))
    assert not _login_works(client.application, staff.interviewer.email, STAFF_PASSWORD)
    assert _login_works(client.application, staff.interviewer.email, password)


def test_an_admin_is_pointed_to_change_password_for_their_own_account(client, staff):
    """A reset of one's own password would end one's own session without warning."""
    log_in(client, staff.admin)
    response = client.post(f"/admin/users/{staff.admin.id}/password", follow_redirects=True)
    assert response.status_code == 200
    assert "use Change password" in response.get_data(as_text=True)
    assert _login_works(client.application, staff.admin.email, STAFF_PASSWORD)
    assert client.get("/admin/users").status_code == 200  # still logged in


def test_changes_need_a_valid_choice_and_post(client, staff):
    log_in(client, staff.admin)
    bad_role = client.post(
        f"/admin/users/{staff.interviewer.id}/role", data={"role": "boss"}, follow_redirects=True
    )
    assert "Choose a role" in bad_role.get_data(as_text=True)
    assert _user(staff.interviewer.email).role == "interviewer"
    no_state = client.post(f"/admin/users/{staff.interviewer.id}/active", data={})
    assert no_state.status_code == 303
    assert _user(staff.interviewer.email).active
    assert client.get(f"/admin/users/{staff.interviewer.id}/password").status_code == 405
    assert client.post("/admin/users/999999/active", data={"active": "0"}).status_code == 404
