"""Create a PostgreSQL database if it does not exist yet: `ensure_database.py URL [--fresh]`.

Used by `.ci/run` (the test run makes its own test_ database, but the named one must
exist for `makemigrations --check` to read the migration history) and by
`make run-scaled`. `--fresh` drops it first (what the scaled-run test wants).
"""

import argparse
import sys
from urllib.parse import urlsplit

import psycopg
from psycopg import sql


def ensure(url: str, *, fresh: bool = False) -> bool:
    """True if the database was created now."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"Not a PostgreSQL URL: {parts.scheme}://...")
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit("The URL names no database.")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="postgres://user@host:port/name")
    parser.add_argument("--fresh", action="store_true", help="drop it first if it exists")
    args = parser.parse_args(argv)
    try:
        created = ensure(args.url, fresh=args.fresh)
    except psycopg.OperationalError as exc:
        print(f"Cannot reach PostgreSQL: {str(exc).strip()}", file=sys.stderr)
        return 1
    if created:
        print(f"created database {urlsplit(args.url).path.lstrip('/')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
