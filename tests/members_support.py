"""Members for tests: most tests are about something else than confirming an email."""

from allauth.account.models import EmailAddress


def verify_email(user, email: str | None = None):
    """Give `user` a verified primary address (theirs, or a made-up one); returns user."""
    email = email or user.email or f"{user.username}@example.com"
    if not user.email:
        user.email = email
        user.save(update_fields=["email"])
    EmailAddress.objects.update_or_create(
        user=user, email=email.lower(), defaults={"verified": True, "primary": True}
    )
    return user


def reauthenticate(client, password: str = "connect-demo"):
    """Confirm the logged-in member's password at /reauthenticate/ (allauth), as account
    deletion asks; returns the client."""
    response = client.post("/reauthenticate/", {"password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client
