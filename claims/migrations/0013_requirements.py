"""A claim's single criterion and its required apps become its requirements.

Each required app becomes a requirement of a healthy account (in the apps' order),
except the criterion's own app, whose account the criterion's check needs anyway; the
criterion becomes a requirement checking an action's result or a proxy read. A trigger
runs on the criterion's app, which becomes the trigger's app. Going back works for what
the old shape can hold (requirements every member must meet, one check at most) and
stops, naming the claims, for anything else.
"""

import django.db.models.deletion
from django.db import migrations, models

import claims.requirement_models


def forward(apps, schema_editor):
    Claim = apps.get_model("claims", "Claim")
    Requirement = apps.get_model("claims", "Requirement")
    for claim in Claim.objects.all():
        position = 0
        has_check = bool(claim.criterion_action or claim.criterion_proxy_url)
        for app in claim.required_apps.order_by("order", "name"):
            if has_check and app.pk == claim.criterion_app_id:
                continue
            Requirement.objects.create(claim=claim, app=app, kind="account", position=position)
            position += 1
        if has_check and claim.criterion_app_id:
            Requirement.objects.create(
                claim=claim,
                app_id=claim.criterion_app_id,
                kind="proxy" if claim.criterion_proxy_url else "action",
                action="" if claim.criterion_proxy_url else claim.criterion_action,
                props={} if claim.criterion_proxy_url else (claim.criterion_props or {}),
                proxy_url=claim.criterion_proxy_url,
                path=claim.criterion_path,
                comparison=claim.criterion_comparison,
                value=claim.criterion_value,
                text=claim.criterion_text,
                identity_path=claim.identity_path,
                position=position,
            )
        if claim.trigger and claim.criterion_app_id:
            claim.trigger_app_id = claim.criterion_app_id
            claim.save(update_fields=["trigger_app"])


def backward(apps, schema_editor):
    Claim = apps.get_model("claims", "Claim")
    # The old shape holds every-member apps and one positive check: a claim with "any"
    # or "none" requirements, or several checks, would come back meaning something else
    # (a "none" check as a "must"), so going back stops and names them instead.
    untold = [
        claim.slug
        for claim in Claim.objects.all()
        if claim.requirements.exclude(group="all").exists()
        or claim.requirements.exclude(kind="account").count() > 1
    ]
    if untold:
        raise RuntimeError(
            "These claims have requirements the claims before 0013 cannot hold (any, none, "
            f"or more than one check): {', '.join(sorted(untold))}. Change or delete them "
            "first, then migrate back."
        )
    for claim in Claim.objects.all():
        requirements = list(claim.requirements.order_by("position", "pk"))
        check = next((r for r in requirements if r.kind != "account"), None)
        if check is not None:
            claim.criterion_app_id = check.app_id
            claim.criterion_action = check.action
            claim.criterion_props = check.props
            claim.criterion_proxy_url = check.proxy_url
            claim.criterion_path = check.path
            claim.criterion_comparison = check.comparison
            claim.criterion_value = check.value
            claim.criterion_text = check.text
            claim.identity_path = check.identity_path
        elif claim.trigger_app_id:
            claim.criterion_app_id = claim.trigger_app_id
        claim.save()
        claim.required_apps.set(
            {r.app_id for r in requirements if r.group == "all"}
            | ({check.app_id} if check is not None else set())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0012_delivery_retention"),
        ("connections", "0006_delivery_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="claim",
            name="trigger_app",
            field=models.ForeignKey(
                blank=True,
                help_text="The app the trigger runs on: one the claim's requirements name.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="connections.app",
            ),
        ),
        migrations.CreateModel(
            name="Requirement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0)),
                (
                    "group",
                    models.CharField(
                        choices=[
                            ("all", "Must meet (all of these)"),
                            ("any", "One of these is enough (any)"),
                            ("none", "Must not meet (none of these)"),
                        ],
                        default="all",
                        max_length=4,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("account", "Has a healthy account"),
                            ("action", "The result of a Pipedream action"),
                            ("proxy", "An API answer read with GET through Pipedream's proxy"),
                        ],
                        default="account",
                        max_length=10,
                        verbose_name="what is checked",
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        blank=True,
                        help_text="Pipedream action key, e.g. github-get-current-user.",
                        max_length=200,
                    ),
                ),
                (
                    "props",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Other props of the action, e.g. {"repoFullname": "owner/name"}.',
                    ),
                ),
                (
                    "proxy_url",
                    models.CharField(
                        blank=True,
                        help_text="An upstream API URL read with GET through Pipedream's proxy on the member's account, e.g. https://api.github.com/user, on one of the app's allowed domains; for an app whose base URL depends on the account (GitLab) a path, e.g. /api/v4/user. A list answer is under items; $status is the HTTP status (204 for a starred repository).",
                        max_length=500,
                        validators=[claims.requirement_models.validate_proxy_url],
                        verbose_name="proxy URL",
                    ),
                ),
                (
                    "path",
                    models.CharField(
                        blank=True,
                        help_text="Dotted path into the result, e.g. user.public_repos or items.0.name.",
                        max_length=200,
                    ),
                ),
                (
                    "comparison",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("eq", "equals"),
                            ("ne", "does not equal"),
                            ("gt", "is greater than"),
                            ("gte", "is at least"),
                            ("lt", "is less than"),
                            ("lte", "is at most"),
                            ("contains", "contains"),
                            ("truthy", "is true (present, non-empty)"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "value",
                    models.CharField(
                        blank=True,
                        help_text="Compared as a number when both sides are numbers.",
                        max_length=200,
                    ),
                ),
                (
                    "text",
                    models.CharField(
                        blank=True,
                        help_text='The sentence members read, e.g. "Have at least 5 public repositories".',
                        max_length=200,
                        verbose_name="as members read it",
                    ),
                ),
                (
                    "identity_path",
                    models.CharField(
                        blank=True,
                        help_text="Optional path into the result naming the upstream identity (e.g. user.login): the claim then completes once per identity, whichever member connected it.",
                        max_length=200,
                    ),
                ),
                (
                    "app",
                    models.ForeignKey(
                        help_text="The app whose account the member connects, and the check runs on.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="requirements",
                        to="connections.app",
                    ),
                ),
                (
                    "claim",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="requirements",
                        to="claims.claim",
                    ),
                ),
            ],
            options={
                "ordering": ["position", "pk"],
                "indexes": [
                    models.Index(fields=["app", "claim"], name="claims_requ_app_id_5f89aa_idx")
                ],
            },
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_action",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_app",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_comparison",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_path",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_props",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_proxy_url",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_text",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="criterion_value",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="identity_path",
        ),
        migrations.RemoveField(
            model_name="claim",
            name="required_apps",
        ),
    ]
