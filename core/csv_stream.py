"""CSV files streamed to the browser, and the admin's "Export as CSV".

`response(header, rows, filename)` writes rows as they come: pass a generator over
`queryset.iterator(chunk_size=CHUNK)` and memory holds one chunk of rows and one buffer of
text, whatever the number of rows. Every cell goes through `cell()`:

- a text beginning with = + - @, a tab or a carriage return gets a leading ' so that a
  spreadsheet shows it as text and never runs it as a formula (CSV injection: members
  choose their username, and values read upstream reach the evidence);
- None is empty, booleans are yes / no, dates and times are local "YYYY-MM-DD HH:MM:SS".

The file is UTF-8 and starts with a byte order mark. Excel opens a CSV without one in the
machine's legacy code page, so an accent, a non-Latin name or an emoji comes out garbled;
with it Excel reads UTF-8. LibreOffice, Google Sheets, Numbers and Python's
encoding="utf-8-sig" all skip it.

`CSVExportAdmin` is a ModelAdmin to build on: the action "Export selected as CSV" and the
changelist's "Export all (filtered)" link (its `export/` URL: the changelist's own
filters, search and ordering), both for staff with the model's view permission. A model
admin using it sets `csv_stem` and defines `csv_header(request)` and
`csv_rows(request, queryset)`; its changelist template extends
admin/csv_export/change_list.html for the link.
"""

import csv
import datetime
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

CHUNK = 2000  # rows fetched from the database at a time
BUFFER = 64 * 1024  # characters written to the response at a time
BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
# What a spreadsheet may read as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One value as written in the file (see the module's docstring)."""
    return _cell(value, timezone.get_current_timezone())


def _cell(value: object, zone: datetime.tzinfo) -> str:
    if type(value) is str:  # most cells: first, and without isinstance's walk
        return "'" + value if value.startswith(_FORMULA_START) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone).replace(tzinfo=None)
        return value.isoformat(" ", "seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)  # ours, never a formula; a negative number stays a number
    return _cell(str(value), zone)


def lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The file's text in pieces of about BUFFER characters: the BOM and header first."""
    zone = timezone.get_current_timezone()  # once: looking it up is most of a cell's time
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: quoted as needed, lines end \r\n
    buffer.write(BOM)
    writer.writerow([_cell(title, zone) for title in header])
    for row in rows:
        writer.writerow([_cell(value, zone) for value in row])
        if buffer.tell() >= BUFFER:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def dated(stem: str) -> str:
    """A file name with today's (local) date: "<stem>-YYYY-MM-DD.csv"."""
    return f"{stem}-{timezone.localdate():%Y-%m-%d}.csv"


def response(
    header: Sequence[str], rows: Iterable[Sequence[object]], filename: str
) -> StreamingHttpResponse:
    """A download of the rows as CSV, written while the rows are read."""
    streamed = StreamingHttpResponse(
        (piece.encode("utf-8") for piece in lines(header, rows)), content_type=CONTENT_TYPE
    )
    streamed["Content-Disposition"] = f'attachment; filename="{filename}"'
    streamed["Cache-Control"] = "no-store"  # members' data: no copy kept on the way
    return streamed


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]  # generic in the stubs only
else:
    _ModelAdmin = admin.ModelAdmin


class CSVExportAdmin(_ModelAdmin):
    """The admin's CSV export of a model: selected rows, or the filtered changelist."""

    csv_stem = "export"

    def csv_header(self, request: HttpRequest) -> Sequence[str]:
        raise NotImplementedError

    def csv_rows(self, request: HttpRequest, queryset: QuerySet[Any]) -> Iterable[Sequence[object]]:
        raise NotImplementedError

    def csv_response(
        self, request: HttpRequest, queryset: QuerySet[Any], scope: str
    ) -> StreamingHttpResponse:
        """The download; a log line says who exported which list, never the filters
        (a search may hold a member's email)."""
        logger.info(
            "CSV export of %s (%s) by user %s",
            self.csv_stem,
            scope,
            request.user.pk,
            extra={"export": self.csv_stem, "scope": scope, "actor": request.user.pk},
        )
        return response(
            self.csv_header(request), self.csv_rows(request, queryset), dated(self.csv_stem)
        )

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Any]) -> StreamingHttpResponse:
        return self.csv_response(request, queryset, "selected")

    def response_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        action_location: ActionLocation = ActionLocation.CHANGE_LIST,
    ) -> HttpResponse | None:
        """Any action of this admin: a selection holding something that is not an ID is
        said so (Django would fail on it with a 500)."""
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                self.opts.pk.to_python(value)
        except ValidationError:
            self.message_user(
                request,
                "Nothing was done: the selection holds something that is not a row's ID. "
                "Select the rows again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, action_location)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        export = path(
            "export/",
            self.admin_site.admin_view(require_GET(self.export_all_view)),
            name="{}_{}_export".format(*info),
        )
        return [export, *super().get_urls()]

    def export_all_view(self, request: HttpRequest) -> HttpResponseBase:
        """Every row the changelist shows with the same query string, all pages."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(
                request,
                "Nothing was exported: the link's filters are not valid. Filter the list "
                "again, then export.",
                messages.ERROR,
            )
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(reverse("admin:{}_{}_changelist".format(*info)))
        return self.csv_response(request, changelist.queryset, "all (filtered)")
