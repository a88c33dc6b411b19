"""The funnel's numbers in ONE query: each fact read once per member (or per member and
claim), then counted, instead of a COUNT per stage with the facts as subqueries.

The facts and stages are claims/funnel/__init__.py's (its docstring says what each
means; `reached()` there reads each fact alone with the ORM, for checks). Here the
database reads each table once, in this order:

- `ev`: per completion, from the ledger events that matter (reasons "delivering",
  "granted", "reissued", or a move to "completed"): the first delivery's and the first
  staff grant's time, and whether it ever moved to completed;
- `comp`: per completion of a cohort member: found eligible (a "delivering" event no
  grant or re-issue came before, compared by (time, id) as `_by_staff_before` does),
  reached completed, completed however, carries an address;
- `acc`: the (member, claim) pairs whose accounts meet the claim's requirements
  (every "all" and "none" app, one "any" app; a claim without requirements: nobody);
- `mc`: (member, claim) pairs with the claim's facts; `m`: one row per cohort member
  with the overall facts, as 0/1 columns; `st`: `m` with its stages.

Then one row of overall figures and one per claim (UNION ALL). Every table is read
whole (hash joins and aggregates on keys; the cohort is applied where members meet
their facts), so the work grows linearly with the rows, in constant memory on our side
(a handful of rows come back). Portable SQL: PostgreSQL and SQLite alike.
"""

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from claims.models import Completion, CompletionEvent, Requirement
from connections.models import ConnectedAccount
from users.models import proven_q
from users.siwbb.config import PROVIDER_ID as BITBADGES
from users.siwbb.selectors import signed_up_with_bitbadges_exists

Reason = CompletionEvent.Reason
COMPLETED = Completion.State.COMPLETED

# The overall row's columns, then each claim's (stage keys as claims.funnel names them).
OVERALL = [
    "signed_up",
    "email_confirmed",
    "address_set",
    "apps_connected",
    "eligible",
    "completed",
    "completed_outside",
    "ahead_address_set",
    "ahead_apps_connected",
    "ahead_eligible",
    "ahead_completed",
    "bitbadges_signed_up",
    "bitbadges_email_confirmed",
    "bitbadges_address_set",
    "bitbadges_apps_connected",
    "bitbadges_eligible",
    "bitbadges_completed",
]
WORK_MEM = "64MB"  # per hash table of the one query, on PostgreSQL
PER_CLAIM = [
    "apps_connected",
    "eligible",
    "completed",
    "ahead_apps_connected",
    "ahead_eligible",
    "ahead_completed",
    "bitbadges_apps_connected",
    "bitbadges_eligible",
    "bitbadges_completed",
]


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _cohort_sql(members: QuerySet) -> tuple[str, tuple]:
    """The cohort's rows with the facts its own columns hold, as SQL and its params."""
    rows = members.annotate(
        sb=_flag(signed_up_with_bitbadges_exists()),
        direct=_flag(proven_q() | Q(signup_method=get_user_model().SignupMethod.BITBADGES)),
        has_address=_flag(~Q(address="")),
    ).values("id", "sb", "direct", "has_address")
    sql, params = rows.query.sql_with_params()
    return sql, tuple(params)


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    tables = {
        "users": get_user_model(),
        "completions": Completion,
        "events": CompletionEvent,
        "accounts": ConnectedAccount,
        "requirements": Requirement,
        "emails": EmailAddress,
        "logins": SocialAccount,
    }
    names = {key: quote(model._meta.db_table) for key, model in tables.items()}
    names["group"] = quote("group")
    return names


SQL = """
WITH cohort AS ({cohort}),
ev AS (
  SELECT e.completion_id AS cid,
    MIN(CASE WHEN e.reason = %s THEN e.at END) AS d_at,
    MIN(CASE WHEN e.reason IN (%s, %s) THEN e.at END) AS s_at,
    MAX(CASE WHEN e.to_state = %s THEN 1 ELSE 0 END) AS to_done
  FROM {events} e
  WHERE e.reason IN (%s, %s, %s) OR e.to_state = %s
  GROUP BY e.completion_id
),
comp AS (
  SELECT c.member_id, c.claim_id,
    CASE WHEN ev.d_at IS NOT NULL AND (
      ev.s_at IS NULL OR ev.d_at < ev.s_at OR (ev.d_at = ev.s_at AND (
        SELECT MIN(e.id) FROM {events} e
        WHERE e.completion_id = c.id AND e.at = ev.d_at AND e.reason = %s
      ) < (
        SELECT MIN(e.id) FROM {events} e
        WHERE e.completion_id = c.id AND e.at = ev.s_at AND e.reason IN (%s, %s)
      ))
    ) THEN 1 ELSE 0 END AS fe,
    CASE WHEN c.state = %s OR c.completed_at IS NOT NULL OR ev.to_done = 1
      THEN 1 ELSE 0 END AS reached,
    CASE WHEN c.state = %s OR c.completed_at IS NOT NULL THEN 1 ELSE 0 END AS done_any,
    CASE WHEN c.address <> '' THEN 1 ELSE 0 END AS has_addr
  FROM {completions} c LEFT JOIN ev ON ev.cid = c.id
  WHERE c.member_id IS NOT NULL
),
ma AS (
  SELECT DISTINCT a.member_id, a.app_id FROM {accounts} a
),
req AS (
  SELECT DISTINCT r.claim_id, r.app_id,
    CASE WHEN r.{group} = %s THEN 1 ELSE 0 END AS is_any
  FROM {requirements} r
),
need AS (
  SELECT claim_id, SUM(1 - is_any) AS n_must, SUM(is_any) AS n_any
  FROM req GROUP BY claim_id
),
got AS (
  SELECT ma.member_id, req.claim_id,
    SUM(1 - req.is_any) AS got_must, MAX(req.is_any) AS got_any
  FROM ma JOIN req ON req.app_id = ma.app_id
  GROUP BY ma.member_id, req.claim_id
),
mc AS (
  SELECT member_id, claim_id, MAX(acc) AS acc, MAX(ee) AS ee, MAX(done) AS done
  FROM (
    SELECT got.member_id, got.claim_id, 1 AS acc, 0 AS ee, 0 AS done
    FROM got JOIN need ON need.claim_id = got.claim_id
    WHERE got.got_must = need.n_must AND (need.n_any = 0 OR got.got_any = 1)
    UNION ALL
    SELECT member_id, claim_id, 0, fe, fe * reached FROM comp
  ) pairs
  GROUP BY member_id, claim_id
),
per AS (
  SELECT member_id, MAX(acc) AS acc_any, MAX(ee) AS ee, MAX(done) AS done
  FROM mc GROUP BY member_id
),
cm AS (
  SELECT member_id, MAX(done_any) AS done_any, MAX(has_addr) AS comp_addr
  FROM comp GROUP BY member_id
),
m AS {materialized} (
  SELECT k.id, k.sb,
    CASE WHEN k.direct = 1
      OR k.id IN (SELECT user_id FROM {emails} WHERE verified = %s)
      OR k.id IN (SELECT user_id FROM {logins} WHERE provider = %s)
      OR k.id IN (SELECT member_id FROM ma)
      OR per.ee = 1 THEN 1 ELSE 0 END AS email,
    CASE WHEN k.has_address = 1 OR cm.comp_addr = 1 THEN 1 ELSE 0 END AS addr,
    CASE WHEN per.acc_any = 1 OR per.ee = 1 THEN 1 ELSE 0 END AS apps,
    COALESCE(per.ee, 0) AS ee,
    COALESCE(per.done, 0) AS done,
    COALESCE(cm.done_any, 0) AS done_any
  FROM cohort k
  LEFT JOIN per ON per.member_id = k.id
  LEFT JOIN cm ON cm.member_id = k.id
),
st AS (
  SELECT m.*, email AS s2, email * addr AS s3, email * addr * apps AS s4,
    email * addr * apps * ee AS s5, email * addr * apps * ee * done AS s6
  FROM m
),
ct AS (
  SELECT mc.claim_id, mc.ee, mc.done, st.sb, st.s3,
    CASE WHEN mc.acc = 1 OR mc.ee = 1 THEN 1 ELSE 0 END AS capps
  FROM mc JOIN st ON st.id = mc.member_id
)
SELECT NULL AS claim_id,
  COUNT(*), SUM(s2), SUM(s3), SUM(s4), SUM(s5), SUM(s6),
  SUM(done_any * (1 - s6)),
  SUM(addr * (1 - s2)), SUM(apps * (1 - s3)), SUM(ee * (1 - s4)), SUM(done * (1 - s5)),
  SUM(sb), SUM(sb * s2), SUM(sb * s3), SUM(sb * s4), SUM(sb * s5), SUM(sb * s6)
FROM st
UNION ALL
SELECT claim_id,
  SUM(s3 * capps), SUM(s3 * capps * ee), SUM(s3 * capps * ee * done),
  SUM(capps * (1 - s3)), SUM(ee * (1 - s3 * capps)), SUM(done * (1 - s3 * capps * ee)),
  SUM(sb * s3 * capps), SUM(sb * s3 * capps * ee), SUM(sb * s3 * capps * ee * done),
  0, 0, 0, 0, 0, 0, 0, 0
FROM ct GROUP BY claim_id
"""


def _params() -> tuple:
    staff = (Reason.GRANTED, Reason.REISSUED)
    reasons = (Reason.DELIVERING, *staff)
    any_group = Requirement.Group.ANY
    return (
        # ev
        Reason.DELIVERING,
        *staff,
        COMPLETED,
        *reasons,
        COMPLETED,
        # comp
        Reason.DELIVERING,
        *staff,
        COMPLETED,
        COMPLETED,
        # req
        any_group,
        # m
        True,
        BITBADGES,
    )


def count(members: QuerySet) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """The overall figures (OVERALL's keys) and each claim's (PER_CLAIM's keys; a claim
    no cohort member has a fact of is left out: all zeros) for the cohort `members`."""
    cohort_sql, cohort_params = _cohort_sql(members)
    postgres = connection.vendor == "postgresql"
    # Each member's facts once (PostgreSQL would repeat them in every stage's sum).
    materialized = "MATERIALIZED" if postgres else ""
    sql = SQL.format(cohort=cohort_sql, materialized=materialized, **_tables())
    if postgres:
        # For this statement's implicit transaction only (sent with it, so still one
        # query; inside a transaction, until its end): no JIT (it compiled this query
        # for longer than it ran, 0.7 s at 10,000 members), and room for its hash tables
        # (at 100,000 members they spill to disk at the default 4 MB).
        sql = f"SET LOCAL jit = off; SET LOCAL work_mem = '{WORK_MEM}'; {sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, cohort_params + _params())
        while cursor.description is None and cursor.nextset():
            pass  # the SETs' empty results, then the figures
        rows = cursor.fetchall()
    overall: dict[str, int] = dict.fromkeys(OVERALL, 0)
    claims: dict[int, dict[str, int]] = {}
    for claim_id, *values in rows:
        if claim_id is None:
            overall = {key: int(value or 0) for key, value in zip(OVERALL, values, strict=True)}
        else:
            figures = zip(PER_CLAIM, values[: len(PER_CLAIM)], strict=True)
            claims[claim_id] = {key: int(value or 0) for key, value in figures}
    return overall, claims
