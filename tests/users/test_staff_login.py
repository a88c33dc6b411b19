"""Staff log in to the admin through allauth's login, under the same limits as members.

The admin's own login page checked passwords without any limit (60 wrong ones for
`admin` in 18 seconds, then the right one let in). It now sends everyone to /login/.
"""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model

from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
# An account held by its limits answers as a wrong password does (users.adapter), with
# the sentence every wrong password gets about waiting or resetting.
HELD = "held for up to 5 minutes: wait, or reset your password"


@pytest.fixture
def admin_user(django_user_model):
    """seed_demo's admin: superuser and staff, email confirmed."""
    return verify_email(
        django_user_model.objects.create_superuser(
            username="admin", email="admin@example.com", password=PASSWORD
        )
    )


def login_page(client) -> str:
    """Where the admin sends someone who is not logged in (the login form's own URL)."""
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    return response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"]


def try_password(client, url, password, ip):
    # Both forms' field names: the admin's (username) and allauth's (login).
    data = {
        "username": "admin",
        "login": "admin",
        "password": PASSWORD if password is None else password,
    }
    return client.post(url, data, REMOTE_ADDR=ip)


def logged_in_as(client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).username if user_id else None


def test_the_20th_wrong_admin_password_is_refused_and_then_the_right_one_too(client, admin_user):
    url = login_page(client)
    # From 20 addresses, so that the per-IP limit never applies: the login name's does.
    for n in range(1, 20):
        try_password(client, url, f"guess-{n}", ip=f"203.0.113.{n}")
    twentieth = try_password(client, url, "guess-20", ip="203.0.113.20")
    assert twentieth.status_code == 200
    assert "do not match" in twentieth.text and HELD in twentieth.text
    right = try_password(client, url, None, ip="198.51.100.7")
    assert right.status_code == 200
    assert "do not match" in right.text and HELD in right.text
    assert logged_in_as(client) is None
    assert client.get("/admin/").status_code == 302
    # The limit is 5 failures per login name in 5 minutes: after that, the right one works.
    with time_machine.travel(datetime.timedelta(minutes=6)):
        response = try_password(client, url, None, ip="198.51.100.7")
        assert response.status_code == 302
        assert response["Location"] == "/admin/"
        assert logged_in_as(client) == "admin"
        assert client.get("/admin/").status_code == 200


def test_the_admin_login_page_sends_to_the_site_login(client, admin_user):
    response = client.get("/admin/login/?next=/admin/claims/claim/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2Fclaims%2Fclaim%2F"
    response = client.get("/admin/login/")
    assert response["Location"] == "/login/?next=%2Fadmin%2Flogin%2F"


def test_a_password_posted_straight_to_the_admin_login_is_never_tried(client, admin_user):
    for n in range(30):
        response = client.post(
            "/admin/login/?next=/admin/", {"username": "admin", "password": f"guess-{n}"}
        )
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2F"
    assert logged_in_as(client) is None
    # Nothing posted there counted against the name either: the site's login still works.
    response = try_password(client, "/login/?next=/admin/", None, ip="127.0.0.1")
    assert response.status_code == 302 and logged_in_as(client) == "admin"


def test_staff_logged_in_cannot_use_the_admin_login_to_try_anothers_password(
    client, admin_user, django_user_model
):
    viewer = django_user_model.objects.create_user(
        username="viewer", email="viewer@example.com", password="viewer-pass-42", is_staff=True
    )
    client.force_login(viewer)
    response = client.post("/admin/login/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in_as(client) == "viewer"
    # And a GET sends them on to where `next` says, on this site only.
    response = client.get("/admin/login/?next=/admin/claims/")
    assert response["Location"] == "/admin/claims/"
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/admin/"


def test_a_member_sent_to_the_admin_is_refused_not_looped(client, member):
    response = client.post(
        "/login/?next=/admin/", {"login": "alice", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 403
    assert [url for url, _ in response.redirect_chain] == [
        "/admin/",
        "/admin/login/?next=/admin/",
    ]
    assert "The admin is for staff" in response.text
    assert "alice" in response.text
    # A POST with someone's password at the admin's login is refused the same way.
    response = client.post("/admin/login/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 403
    assert logged_in_as(client) == "alice"


def test_staff_log_in_at_the_site_login_and_land_in_the_admin(client, admin_user):
    response = client.post(
        "/login/?next=/admin/claims/claim/", {"login": "admin", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/claims/claim/"
    assert client.get("/admin/claims/claim/").status_code == 200


def test_staff_without_an_email_log_in_without_a_confirmation_mail(
    client, django_user_model, mailoutbox
):
    django_user_model.objects.create_superuser(username="root", email="", password=PASSWORD)
    response = client.post("/login/?next=/admin/", {"login": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert mailoutbox == []


def test_the_admins_password_change_is_the_sites(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"] == "/password/change/"
    response = client.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-Pass-word",
            "new_password2": "n3w-Pass-word",
        },
    )
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_the_admins_logout_still_logs_out(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert logged_in_as(client) is None
