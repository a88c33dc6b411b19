"""Helpers every app may use and that know no app: addresses, HTTP to upstreams, rate
limits, database connections. Nothing here imports an app or the sandbox (import-linter
checks it; see pyproject.toml), and nothing here defines models."""
