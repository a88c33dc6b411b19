"""Claim jobs in the admin: a dry run asked for on the claims list runs on the task
worker (claims.tasks.claim_dry_run_task); its page shows its progress while it runs, then
its totals, per requirement, the reasons, the first rows and a CSV of every row.

Members' names and the values read on their accounts are shown only when the job was
asked for by someone who could see them (`show_values`) and the viewer can now
(claims.admin.member_values.can_see); otherwise totals and words only, as the claim's
own pages do.
"""

import csv
import functools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from claims.admin.member_values import can_see
from claims.job_models import STALLED_AFTER, ClaimJob, DryRunRow
from claims.models import Claim
from claims.tasks import claim_dry_run_task
from core import ratelimit

logger = logging.getLogger(__name__)

ROWS_SHOWN = 500  # rows on a job's page; the CSV has them all
COUNT_LABELS = {
    "members": "Members evaluated",
    "qualify": "Would qualify",
    "completed": "Already completed",
    "not_met": "Would not qualify: a rule not met",
    "no_account": "No account, or no healthy account, to check",
    "errored": "Could not be checked (error)",
}
# A formula-like first character makes a spreadsheet run the cell: quoted with '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _enqueue(job_id: int) -> None:
    try:
        claim_dry_run_task.enqueue(job_id)
    except Exception:
        logger.exception("Could not enqueue claim_dry_run_task for job %s", job_id)
        ClaimJob.objects.filter(pk=job_id, state=ClaimJob.State.QUEUED).update(
            state=ClaimJob.State.FAILED,
            finished_at=timezone.now(),
            error="The job could not be queued for the task worker; run it again.",
        )


DRY_RUNS_PER_HOUR = 10  # new dry-run jobs a staff member may start in an hour


def _under_way(claim: Claim) -> ClaimJob | None:
    """The claim's dry run still queued or running (and not stalled), if there is one."""
    waiting = ClaimJob.objects.filter(
        kind=ClaimJob.Kind.DRY_RUN,
        claim=claim,
        state__in=[ClaimJob.State.QUEUED, ClaimJob.State.RUNNING],
    ).order_by("-pk")
    return next((job for job in waiting[:5] if not job.stalled), None)


def dry_run_jobs_start(request, claims: Iterable[Claim]) -> list[ClaimJob]:
    """A dry-run job per claim, queued once the request's changes are committed. A claim
    whose dry run is under way gets that one back: each job calls Pipedream for every
    member, so asking again must not pile them up; and a staff member starts at most
    DRY_RUNS_PER_HOUR in an hour."""
    show_values = can_see(request)
    jobs = []
    for claim in claims:
        running = _under_way(claim)
        if running is not None:
            messages.info(request, f"A dry run of {claim} is under way already: here it is.")
            jobs.append(running)
            continue
        wait = ratelimit.hit(
            "claims-dry-run", request.user.pk, limit=DRY_RUNS_PER_HOUR, window=3600
        )
        if wait is not None:
            messages.error(
                request,
                f"That is {DRY_RUNS_PER_HOUR} dry runs in an hour, each checking every "
                f"member: try again in {-(-wait // 60)} minutes.",
            )
            break
        job = ClaimJob.objects.create(
            kind=ClaimJob.Kind.DRY_RUN,
            claim=claim,
            requested_by=request.user,
            show_values=show_values,
        )
        transaction.on_commit(functools.partial(_enqueue, job.pk))
        jobs.append(job)
    return jobs


def jobs_redirect(jobs: list[ClaimJob]):
    """To the job's page; for several, to the list of them; for none, to the claims."""
    if not jobs:
        return redirect("admin:claims_claim_changelist")
    if len(jobs) == 1:
        return redirect("admin:claims_claimjob_change", jobs[0].pk)
    ids = ",".join(str(job.pk) for job in jobs)
    return redirect(f"{reverse('admin:claims_claimjob_changelist')}?id__in={ids}")


class _Echo:
    """csv.writer's file: each row is handed back as written, for streaming."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _reasons(job: ClaimJob, may_see: bool) -> list[tuple[str, int]]:
    reasons = job.reasons.get("values" if may_see else "words") or {}
    return sorted(reasons.items(), key=lambda item: (-item[1], item[0]))


@admin.register(ClaimJob)
class ClaimJobAdmin(admin.ModelAdmin):
    list_display = ("id", "claim", "state_shown", "progress", "requested_by", "created_at")
    list_filter = ("state",)
    list_select_related = ("claim", "requested_by")
    search_fields = ("claim__name", "claim__slug")

    # Read-only: jobs are made by the claims' dry-run action; whoever may run one (view
    # on claims) may see them. Try it jobs are the builder's, answered to whoever asked
    # (claims/admin/builder.py), and not listed here.
    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=ClaimJob.Kind.DRY_RUN)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("claims.view_claim") or super().has_view_permission(
            request, obj
        )

    @admin.display(description="state", ordering="state")
    def state_shown(self, job: ClaimJob) -> str:
        return "stalled" if job.stalled else job.get_state_display()

    @admin.display(description="progress")
    def progress(self, job: ClaimJob) -> str:
        return f"{job.done} / {job.total}" if job.total else "–"

    def get_urls(self):
        def view(function, name):
            return path(
                f"<str:job_id>/{name}/",
                self.admin_site.admin_view(function),
                name=f"claims_claimjob_{name}",
            )

        return [
            view(self.progress_view, "progress"),
            view(self.csv_view, "csv"),
            view(require_POST(self.again_view), "again"),
        ] + super().get_urls()

    def _job(self, request, job_id: str) -> ClaimJob:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # A pk is a few ASCII digits: anything else is no job (int() would take others).
        if not (job_id.isascii() and job_id.isdigit() and len(job_id) <= 18):
            raise Http404("No dry run with this id.")
        job = (
            ClaimJob.objects.select_related("claim", "requested_by")
            .filter(pk=int(job_id), kind=ClaimJob.Kind.DRY_RUN)
            .first()
        )
        if job is None:
            raise Http404("No dry run with this id.")
        return job

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self._job(request, object_id)
        may_see = job.show_values and can_see(request)
        rows = list(job.rows.select_related("member")[:ROWS_SHOWN]) if may_see else []
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run of {job.claim}",
            "opts": self.opts,
            "job": job,
            "stalled": job.stalled,
            "stalled_minutes": int(STALLED_AFTER.total_seconds() // 60),
            "counts": [
                (name.replace("_", "-"), label, job.counts.get(name, 0))
                for name, label in COUNT_LABELS.items()
            ],
            "requirements": list(job.requirements.values()),
            "reasons": _reasons(job, may_see),
            "may_see": may_see,
            "viewer_can_see": can_see(request),
            "rows": rows,
            "more": max(0, job.done - len(rows)) if may_see else 0,
            "can_delete": self.has_delete_permission(request, job),
        }
        return TemplateResponse(request, "admin/claims/claimjob/dry_run.html", context)

    def progress_view(self, request, job_id):
        """What the job page's script polls: state and progress, no member, no value."""
        job = self._job(request, job_id)
        return JsonResponse(
            {
                "state": job.state,
                "state_label": "stalled" if job.stalled else job.get_state_display(),
                "done": job.done,
                "total": job.total,
                "percent": job.percent,
                "finished": job.finished,
                "stalled": job.stalled,
            }
        )

    def again_view(self, request, job_id):
        """A new job for the same claim (the old one, stalled or not, stays as it is)."""
        job = self._job(request, job_id)
        if job.claim_id is None:
            raise Http404("This job has no claim to run again.")
        return jobs_redirect(dry_run_jobs_start(request, Claim.objects.filter(pk=job.claim_id)))

    def csv_view(self, request, job_id):
        """Every row, streamed; without the right to see values, the totals and reasons."""
        job = self._job(request, job_id)
        may_see = job.show_values and can_see(request)
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            if may_see:
                yield writer.writerow(["member", "would qualify", "outcome", "reason", "in words"])
                rows = (
                    job.rows.order_by("pk")
                    .values_list("member__username", "outcome", "note", "value_note")
                    .iterator(chunk_size=2000)
                )
                for username, outcome, note, value_note in rows:
                    yield writer.writerow(
                        [
                            _cell(username or "(member deleted)"),
                            "yes" if outcome == DryRunRow.Outcome.QUALIFY else "no",
                            DryRunRow.Outcome(outcome).label,
                            _cell(value_note or note),
                            _cell(note),
                        ]
                    )
                return
            yield writer.writerow(["what", "members"])
            for name, label in COUNT_LABELS.items():
                yield writer.writerow([label, job.counts.get(name, 0)])
            for reason, count in _reasons(job, False):
                yield writer.writerow([_cell(f"reason: {reason}"), count])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="dry-run-{job.claim.slug if job.claim else "claim"}-{job.pk}.csv"'
        )
        return response
