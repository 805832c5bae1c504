"""Staff log in and out: passwords, sessions and their expiry, safe redirects, CSRF, and the
Redis-backed login rate limit."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import select

from app import create_app
from app.blueprints.auth import LOGIN_FAILED, TOO_MANY_ATTEMPTS
from app.extensions import db, limiter
from app.models import User, utcnow
from app.services.users import create_user, find_user, set_active, set_password

from ..conftest import FIXTURE_CHALLENGES
from .conftest import STAFF_PASSWORD, log_in

REDIS_URL = "redis://127.0.0.1:6379/15"
DASHBOARD = "/review/"
ADMIN_EMAIL = "ada@example.com"


def post_login(client, email: str, password: str, next_url: str | None = None):
    query = {"next": next_url} if next_url is not None else None
    return client.post("/login", query_string=query, data={"email": email, "password": password})


def logged_in(client) -> bool:
    """Whether the staff dashboard answers (rather than sending to the login page)."""
    response = client.get(DASHBOARD)
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.location.startswith("/login")
    return False


@pytest.fixture
def build_app(database_url):
    """Build a full app on the test database with some settings changed, and one admin
    (ADMIN_EMAIL). Unlike ``web_app``, no app context stays pushed while the test runs, so each
    request gets its own ``g`` as in production (Flask-Login and Flask-WTF cache per-request
    state there: the logged-in user, the CSRF token)."""
    built = []

    def build(**overrides):
        # Flask-Limiter keeps the first key prefix it was initialised with on the shared
        # extension, so each app here starts from none to get its own.
        limiter._key_prefix = ""
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "REDIS_URL": REDIS_URL,
                "CHALLENGES_DIR": FIXTURE_CHALLENGES,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                **overrides,
            }
        )
        with app.app_context():
            db.create_all()
            create_user(ADMIN_EMAIL, "Ada", "admin", STAFF_PASSWORD)
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    limiter._key_prefix = ""


def test_login_page_renders_the_form(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert 'type="password"' in html


def test_right_password_logs_in_and_lands_on_the_dashboard(client, staff):
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD)
    assert response.status_code == 302
    assert response.location == DASHBOARD
    assert logged_in(client)


def test_a_logged_in_user_visiting_the_login_page_goes_to_the_dashboard(client, staff):
    log_in(client, staff.interviewer)
    response = client.get("/login")
    assert response.status_code == 302 and response.location == DASHBOARD


def test_wrong_password_is_401_with_a_message_and_no_session(client, staff):
    response = post_login(client, staff.interviewer.email, "not the password at all")
    assert response.status_code == 401
    assert LOGIN_FAILED in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert not logged_in(client)


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, staff):
    response = post_login(client, "nobody@example.com", STAFF_PASSWORD)
    assert response.status_code == 401
    assert LOGIN_FAILED in response.get_data(as_text=True)


def test_an_empty_form_is_400_with_field_errors(client, staff):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert "field-error" in response.get_data(as_text=True)
    assert not logged_in(client)


def test_a_deactivated_user_cannot_log_in(client, staff):
    set_active(staff.interviewer, False)
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD)
    assert response.status_code == 401
    assert LOGIN_FAILED in response.get_data(as_text=True)
    assert not logged_in(client)


def test_deactivating_a_user_ends_their_open_session(build_app):
    app = build_app()
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    assert logged_in(client)
    with app.app_context():
        create_user("bo@example.com", "Bo", "admin", STAFF_PASSWORD)  # not the last admin
        set_active(find_user(ADMIN_EMAIL), False)
    assert not logged_in(client)


def test_a_new_password_ends_the_sessions_of_the_old_one(build_app):
    """An admin's reset (or `flask users set-password`) logs the account out everywhere."""
    app = build_app()
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    with app.app_context():
        set_password(find_user(ADMIN_EMAIL), "a brand new password")
    assert not logged_in(client)
    assert post_login(client, ADMIN_EMAIL, "a brand new password").status_code == 302


NEW_PASSWORD = "another long password"


def _change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    data = {"current_password": current, "new_password": new, "confirm": confirm or new}
    return client.post("/account/password", data=data)


def test_staff_change_their_own_password_and_other_sessions_end(build_app):
    app = build_app()
    here, elsewhere = app.test_client(), app.test_client()
    for client in (here, elsewhere):
        assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    assert "Change your password" in here.get("/account/password").get_data(as_text=True)

    response = _change(here, STAFF_PASSWORD)
    assert response.status_code == 302 and response.location == DASHBOARD
    assert logged_in(here)
    assert not logged_in(elsewhere)
    assert post_login(elsewhere, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 401
    assert post_login(elsewhere, ADMIN_EMAIL, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not my password at all", NEW_PASSWORD, None, "That is not your current password."),
        (STAFF_PASSWORD, "short", None, "at least 12"),
        (STAFF_PASSWORD, NEW_PASSWORD, "a different entry!!", "The two entries differ."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    build_app, current, new, confirm, message
):
    app = build_app()
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    response = _change(client, current, new, confirm)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert logged_in(client)
    with app.app_context():
        assert find_user(ADMIN_EMAIL).check_password(STAFF_PASSWORD)


def test_emails_are_case_insensitive(client, staff):
    response = post_login(client, "  IVY@Example.COM ", STAFF_PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_next_sends_back_to_a_same_site_path(client, staff):
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD, next_url="/review/?x=1")
    assert response.status_code == 302 and response.location == "/review/?x=1"


def test_an_anonymous_visit_comes_back_to_the_page_after_login(client, staff):
    bounced = client.get(DASHBOARD)
    assert bounced.status_code == 302
    login_url = bounced.location
    assert login_url.startswith("/login?next=")
    response = client.post(
        login_url, data={"email": staff.interviewer.email, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302 and response.location == DASHBOARD


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/review/",
        "https://evil.example",
        "https://evil.example/review/",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "review/",
    ],
)
def test_next_pointing_elsewhere_is_ignored(client, staff, target):
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.location == DASHBOARD


@pytest.mark.parametrize("target", ["/\\evil.example", "/\\/evil.example", "/review/\\x"])
def test_next_with_backslashes_stays_on_the_site(client, staff, target):
    """Browsers read a backslash as a slash, so ``/\\evil.example`` sent as is would leave."""
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD, next_url=target)
    assert response.status_code == 302
    as_a_browser_reads_it = urlsplit(response.location.replace("\\", "/"))
    assert not as_a_browser_reads_it.scheme and not as_a_browser_reads_it.netloc
    assert response.location.startswith("/") and not response.location.startswith("//")


def test_logout_needs_a_post_and_ends_the_session(client, staff):
    log_in(client, staff.interviewer)
    assert client.get("/logout").status_code == 405
    assert logged_in(client)

    response = client.post("/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert not logged_in(client)
    with client.session_transaction() as session:
        assert "_user_id" not in session and "login_at" not in session


def test_a_copy_of_the_session_cookie_taken_before_logout_opens_nothing_after(client, staff):
    log_in(client, staff.interviewer)
    stolen = client.get_cookie("session").value
    other_browser = client.application.test_client()
    log_in(other_browser, staff.interviewer)  # the same account elsewhere stays logged in

    client.post("/logout")
    client.set_cookie("session", stolen)

    assert not logged_in(client)
    assert logged_in(other_browser)


def test_a_failed_login_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(
    client, staff, monkeypatch
):
    """Counted, not timed: both check one scrypt hash, so neither answers sooner."""
    from app.services import users

    checked = []
    real = users.check_password_hash
    monkeypatch.setattr(
        users, "check_password_hash", lambda *args: checked.append("decoy") or real(*args)
    )
    monkeypatch.setattr(
        User,
        "check_password",
        lambda self, pw: checked.append("account") or real(self.password_hash, pw),
    )
    set_active(staff.other_interviewer, False, acting=staff.admin)
    for email in ("nobody@example.com", staff.interviewer.email, staff.other_interviewer.email):
        checked.clear()
        response = post_login(client, email, "not the password at all")
        assert response.status_code == 401
        assert len(checked) == 1, (email, checked)
    assert users._decoy_hash().startswith("scrypt:")
    assert staff.interviewer.password_hash.startswith("scrypt:")


def test_hsts_is_sent_over_https_only(client):
    secure = client.get("/login", base_url="https://faultline.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_logout_when_not_logged_in_sends_to_the_login_page(client):
    response = client.post("/logout")
    assert response.status_code == 302 and response.location.startswith("/login")


@pytest.mark.parametrize(("hours_past_the_limit", "still_in"), [(-1, True), (1, False)])
def test_sessions_end_after_the_maximum_age(build_app, hours_past_the_limit, still_in):
    app = build_app()
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    max_hours = app.config["STAFF_SESSION_MAX_HOURS"]
    with client.session_transaction() as session:
        started = utcnow() - timedelta(hours=max_hours + hours_past_the_limit)
        session["login_at"] = started.isoformat()
    assert logged_in(client) is still_in


@pytest.mark.parametrize("login_at", [None, "not a time"])
def test_a_session_without_a_valid_login_time_is_not_logged_in(build_app, login_at):
    client = build_app().test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    assert logged_in(client)
    with client.session_transaction() as session:
        if login_at is None:
            del session["login_at"]
        else:
            session["login_at"] = login_at
    assert not logged_in(client)


def test_the_session_cookie_expires_after_the_idle_lifetime(client, staff, web_app):
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    match = re.search(r"Expires=([^;]+)", cookie)
    assert match, cookie
    expires = parsedate_to_datetime(match.group(1)).replace(tzinfo=None)
    expected = utcnow() + web_app.config["PERMANENT_SESSION_LIFETIME"]
    assert abs((expires - expected).total_seconds()) < 60


def test_passwords_are_stored_as_scrypt_hashes(web_app, staff):
    user = db.session.scalar(select(User).where(User.email == staff.admin.email))
    set_password(user, "another long password")
    for stored in db.session.scalars(select(User)):
        assert stored.password_hash.startswith("scrypt:")
        assert stored.password_hash not in (STAFF_PASSWORD, "another long password")
        assert STAFF_PASSWORD not in stored.password_hash


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_with_csrf_on_a_login_without_token_is_400(build_app):
    client = build_app(WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert not logged_in(client)

    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and logged_in(client)


def test_with_csrf_on_a_staff_post_without_token_is_refused(build_app):
    client = build_app(WTF_CSRF_ENABLED=True).test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token},
    )
    assert logged_in(client)

    assert client.post("/logout").status_code == 400
    assert logged_in(client)

    page = client.get(DASHBOARD).get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_token_of(page)})
    assert response.status_code == 302 and not logged_in(client)


@pytest.fixture
def rate_limit_prefix():
    prefix = f"test-login-{uuid.uuid4().hex[:10]}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    if keys:
        connection.delete(*keys)


def test_too_many_logins_get_a_friendly_429_counted_in_redis(build_app, rate_limit_prefix):
    client = build_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=rate_limit_prefix,
        LOGIN_RATE_LIMIT="3 per minute",
    ).test_client()
    wrong = {"email": ADMIN_EMAIL, "password": "not the password at all"}

    assert [client.post("/login", data=wrong).status_code for _ in range(3)] == [401] * 3
    response = client.post("/login", data=wrong)

    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert TOO_MANY_ATTEMPTS in html and "Traceback" not in html
    assert response.headers.get("Retry-After")
    blocked = client.post("/login", data={"email": ADMIN_EMAIL, "password": STAFF_PASSWORD})
    assert blocked.status_code == 429
    assert client.get("/login").status_code == 200

    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{rate_limit_prefix}*"))
    assert keys, "the login limit is not counted in Redis"
    assert any(b"auth.login" in key for key in keys)


def test_only_failed_logins_count_against_the_limit(build_app, rate_limit_prefix):
    """Staff who log in often are never locked out; someone guessing is."""
    app = build_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=rate_limit_prefix,
        LOGIN_RATE_LIMIT="3 per minute",
    )
    for _ in range(5):
        client = app.test_client()
        assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    client = app.test_client()
    statuses = [post_login(client, ADMIN_EMAIL, "a wrong guess!!").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_failed_password_changes_count_against_the_limit(build_app, rate_limit_prefix):
    app = build_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=rate_limit_prefix,
        LOGIN_RATE_LIMIT="3 per minute",
    )
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    guesses = [_change(client, f"guess number {n}!!").status_code for n in range(4)]
    assert guesses == [400, 400, 400, 429]


def test_the_same_password_again_is_not_a_change(build_app):
    client = build_app().test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    response = _change(client, STAFF_PASSWORD, STAFF_PASSWORD)
    assert response.status_code == 400
    assert "Choose a password different from the current one." in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/review/%0d%0aX:1", "/review/\r\nSet-Cookie:x=1", "/logout"])
def test_next_with_control_characters_or_a_form_action_lands_on_the_dashboard(
    client, staff, target
):
    response = post_login(client, staff.interviewer.email, STAFF_PASSWORD, next_url=target)
    assert response.status_code == 302 and response.location == DASHBOARD


def test_a_logged_in_visit_to_the_login_page_follows_next(client, staff):
    log_in(client, staff.admin)
    response = client.get("/login", query_string={"next": "/admin/users"})
    assert response.status_code == 302 and response.location == "/admin/users"


def test_a_form_sent_after_the_session_ended_says_so_and_shows_what_was_typed(build_app):
    app = build_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": STAFF_PASSWORD, "csrf_token": token}
    )
    page = client.get("/review/assessments/new").get_data(as_text=True)
    form = {"csrf_token": csrf_token_of(page), "title": "Backend <onsite>", "challenges": "1"}
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # the session ended meanwhile

    response = client.post(
        "/review/assessments/new",
        data=form,
        headers={"Referer": "http://localhost/review/assessments/new"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Your session has ended" in html and "CSRF" not in html
    assert 'href="/login?next=/review/assessments/new"' in html
    assert "Backend &lt;onsite&gt;" in html  # what was typed, escaped
    assert csrf_token_of(page) not in html


def test_logging_out_of_an_ended_session_just_shows_the_login_page(build_app):
    client = build_app(WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/logout", data={"csrf_token": "stale"})
    assert response.status_code == 302 and response.location == "/login"


def test_json_routes_answer_errors_in_json(client, staff):
    log_in(client, staff.interviewer)
    forbidden = client.get("/admin/queue.json")
    assert forbidden.status_code == 403 and forbidden.is_json
    missing = client.get("/review/assessments/999/status.json")
    assert missing.status_code == 404 and missing.is_json


def _sets_session_cookie(response, app) -> bool:
    name = app.config["SESSION_COOKIE_NAME"]
    return any(c.startswith(f"{name}=") for c in response.headers.getlist("Set-Cookie"))


def test_background_polling_does_not_keep_an_idle_session_alive(build_app):
    """An open dashboard polls every few seconds; the session must still end when its user
    is away. Polled routes do not re-sign the cookie, so its age keeps counting."""
    import time

    # The cookie's timestamp has whole seconds: polls inside the first 2 s are surely inside a
    # 4 s lifetime, and a poll 6.5 s after the page is surely outside it, however loaded the
    # machine is.
    app = build_app(PERMANENT_SESSION_LIFETIME=timedelta(seconds=4))
    client = app.test_client()
    assert post_login(client, ADMIN_EMAIL, STAFF_PASSWORD).status_code == 302
    page = client.get(DASHBOARD)
    signed = time.monotonic()
    assert page.status_code == 200 and _sets_session_cookie(page, app)
    while time.monotonic() - signed < 2.0:
        poll = client.get("/review/status.json")
        assert poll.status_code == 200 and not _sets_session_cookie(poll, app)
        time.sleep(0.5)
    while time.monotonic() - signed < 6.5:
        assert not _sets_session_cookie(client.get("/review/status.json"), app)
        time.sleep(0.5)
    assert client.get("/review/status.json").status_code == 401
    assert not logged_in(client)
