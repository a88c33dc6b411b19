"""Helpers every app may use and that know no app: addresses, HTTP to upstreams, rate
limits, database connections. Nothing here imports the apps, Django's models or the
sandbox (import-linter checks it; see pyproject.toml)."""
