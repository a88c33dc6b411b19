from django.apps import AppConfig


class MembersConfig(AppConfig):
    """A member across the apps: what reaches users, connections and claims at once
    (the profile page, deleting a member everywhere, the demo members). It sits above the
    three apps, which never import it."""

    name = "members"
