"""Signals other apps listen to, so they never import claims' engine.

- completion_completed(completion): a completion became COMPLETED (the engine's
  ledger.completed moved it there: a delivery that landed, or one verified after an
  unknown outcome). Sent on commit, with sender=Completion, once per such move; a staff
  re-issue that is delivered again moves it there again, so a receiver that must act
  once per completion keys on the completion's id.
- completion_changed(completion_id, from_state, to_state): a completion moved into
  completed, failed or revoked from another state (any ledger move: the engine, a staff
  action). Sent on commit, with sender=Completion, once per move; a receiver reads the
  row again (it may have moved on since).
- completion_changing(completion_id, from_state, to_state): the same moves, sent inside
  the transaction that makes them, right after the row and its ledger event are written:
  what a receiver writes commits (or rolls back) with the move, so a crash between the
  commit and an on-commit receiver cannot lose it (the host site's webhooks record their
  messages here). Sent with `send`: a receiver that raises undoes the move.
"""

from django.dispatch import Signal

completion_completed = Signal()
completion_changed = Signal()
completion_changing = Signal()
