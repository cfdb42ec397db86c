"""Writers for iqa's reports. Nothing here imports torch.

- :mod:`._atomic` — ``atomic_write``: write a file through a temporary file and
  ``os.replace``, so an interrupted run never leaves a half-written report
- :mod:`.json` — strict ``iqa/1`` JSON documents and JSONL streams
- :mod:`.csv` — the contract CSV (fixed header, ``inf``/``nan`` as text)
- :mod:`.table` — the rich table for terminals: pairs, settings line, summary,
  worst pairs

The output contract is ``shared/spec/cli.md`` ("Output").
"""
