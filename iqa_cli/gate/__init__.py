"""The CI gate's rules, apart from the command line: :mod:`.gates` (grammar,
evaluation, margins), :mod:`.config` (the TOML table), :mod:`.rows` (check
rows and the verdict) and :mod:`.update` (rewriting the baseline)."""
