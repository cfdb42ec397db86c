"""Writers for iqa's reports. Nothing here imports torch, and nothing decodes a
file: reporters take results, rows and arrays.

- :mod:`.outputs` — routes results to stdout and files (streams and atomic files)
- :mod:`iqa_cli.atomic` — ``atomic_write``: a temporary file and ``os.replace``, so an
  interrupted run never leaves a half-written report
- :mod:`.json` — strict JSON (contract ``iqa/2``) documents and JSONL streams
- :mod:`.csv` — the contract CSV (fixed header, ``inf``/``nan`` as text)
- :mod:`.table` — the rich table of compare/batch; :mod:`.check_table` — check's
- :mod:`.junit`, :mod:`.github`, :mod:`.html` — the gate's CI reports
- :mod:`.images`, :mod:`.diffs` — heatmaps, difference masks and thumbnails
"""
