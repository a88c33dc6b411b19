from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save


class MembersConfig(AppConfig):
    """A member across the apps: what reaches users, connections and claims at once
    (the profile page, deleting a member everywhere, the demo members). It sits above the
    three apps, which never import it."""

    name = "members"

    def ready(self):
        # Imported here, once the app registry is ready (services uses the models): a
        # member made active again earns again (members.services.member_reactivated).
        from members import services
        from users.models import User  # a model: only once the registry is ready

        pre_save.connect(services.member_saving, sender=User, dispatch_uid="members.saving")
        post_save.connect(services.member_saved, sender=User, dispatch_uid="members.saved")
