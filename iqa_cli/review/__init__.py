"""``iqa review``: a local web page to look at every changed image and accept
or reject it, one pair at a time.

- :mod:`.records`: check rows turned into the records the page shows, with
  their pictures drawn from the arrays the check's runner kept.
- :mod:`.ci_report`: a CI run's ``iqa check --json`` report, read back for
  ``--from-report``.
- :mod:`.session`: the :class:`~.session.ReviewSession` protocol the server
  talks to, and :class:`~.session.FileSession`, which holds the pair records
  and applies decisions to the files of a baseline folder.
- :mod:`.undo`: the undo log (``.iqa-review.jsonl`` and its blob store) and the
  all-or-nothing file changes that accept and undo are made of.
- :mod:`.paths`: where a pair may write: inside BASELINE, never outside.
- :mod:`.server`: the HTTP app (werkzeug), its JSON API and its guards.
- ``static/``: the page (plain HTML, CSS and JavaScript; no build step).

Sits between the reports and the commands: it imports the report helpers and
the gate (rows, update planning), and only a command imports it.
"""
