"""What connections' views say to members about one account or app, in the member's
language: each a whole sentence with named placeholders, so translators can reorder it.

views.py is full (600 lines); its other messages are marked where they are said.
"""

from django.utils.translation import gettext as _


def account_connected(account) -> str:
    """The Connect dialog's answer once the account is recorded."""
    return _("%(app)s account %(account)s is connected.") % {
        "app": account.app.name,
        "account": account.name or account.pipedream_id,
    }


def app_connected(app_name: str) -> str:
    return _("Your %(app)s account is connected.") % {"app": app_name}


def app_not_connected(app_name: str) -> str:
    """Back from Pipedream without an account: said neutrally (the member may have
    cancelled)."""
    return _("Your %(app)s account was not connected. Connect it whenever you're ready.") % {
        "app": app_name
    }


def app_not_refreshed(app_name: str, reason: object) -> str:
    """Back from Pipedream, and the accounts could not be read yet; `reason` is a
    ConnectError's sentence."""
    return _(
        "We could not refresh your accounts yet: %(reason)s "
        "Your %(app)s account will appear shortly."
    ) % {"reason": reason, "app": app_name}


def log_in_to_connect(app_name: str) -> str:
    return _("Log in to connect your %(app)s account.") % {"app": app_name}


def log_in_to_finish(app_name: str) -> str:
    return _("Log in to finish connecting your %(app)s account.") % {"app": app_name}


def not_an_account_of(app_name: str) -> str:
    return _("That account is not a %(app)s account.") % {"app": app_name}


def link_expired() -> str:
    """The title of the page an expired (or used) emailed link opens."""
    return _("This link has expired")


def link_invalid() -> str:
    """The title of the page a broken emailed link opens."""
    return _("This link is not valid")
