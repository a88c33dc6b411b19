"""The claims engine: evaluate a member against a claim, deliver it exactly once.

One module per step, in the order a completion meets them:

- check_requests.py: asking for a check (a member, a signal, an admin, a trigger, cron);
- ledger.py: the lease a worker holds and every move it makes, written down;
- evaluation.py: does the member meet every rule now;
- delivery.py: from the lease to completed, ineligible, failed, a retry or the pause;
- methods/: one class per delivery method (BitBadges claim, dynamic store, workflow);
- verification.py: did an earlier send land, before anything is sent again;
- rechecks.py: what cron looks at again; dry_run.py: who would qualify.

errors.py and timing.py are what the steps share: the errors, and the settings that
time them. The tasks the engine asks for go through claims/queue.py.

Exactly once rests on three rules:

1. A worker takes a row only under a row lock (`SELECT ... FOR UPDATE`) and only when
   it is due; it writes a fresh lease token and a lease expiry, then lets the lock go
   before any HTTP call. Every later write is a conditional UPDATE on that token and
   the expected state, so a worker that lost its lease can change nothing.
2. The row is `delivering` (committed) before anything is sent upstream. A row found
   `delivering` on an expired lease belonged to a worker that died mid-way: whatever it
   sent is an unknown outcome.
3. An unknown outcome (a worker died, `complete` timed out, a poll never resolved, a
   workflow gave an answer that says nothing) is checked upstream before anything is
   sent again, each delivery method its own way. Only a definite "it did not land"
   allows a resend, and for a workflow not even that: an admin decides.

BitBadges out of credits (402) is neither a retry nor a failure: deliveries wait on a
pause that resumes them by itself (claims/pause.py).

Views, the admin, commands, receivers and tasks reach the engine through
claims/services.py, its public face.
"""
