#!/usr/bin/env bash
# Runs the whole test suite: lint, then every test on SQLite, then the tests marked `postgres` (those
# that exercise the store itself) again on PostgreSQL when one answers at TEST_POSTGRES_URL
# (default: the local server, database `test`, user `postgres`).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.installed-test ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch .venv/.installed-test
fi
.venv/bin/ruff check .
echo "== tests on SQLite"  # in 3 workers: most tests wait on local sockets, so 3 beat 2 on 2 cores
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-3}" "$@"
PG_URL="${TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}"
if .venv/bin/python - "$PG_URL" <<'PY'
import asyncio, sys
import asyncpg
from sqlalchemy.engine import make_url
u = make_url(sys.argv[1])
async def main():
    c = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                              database=u.database, timeout=5)
    await c.close()
try:
    asyncio.run(main())
except Exception as exc:
    print(f"PostgreSQL not reachable at {u.render_as_string(hide_password=True)}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "== store tests on PostgreSQL"
  TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -q -p no:cacheprovider -m postgres -n "${TEST_WORKERS:-3}" "$@"
else
  echo "== PostgreSQL pass not run: no server answered (CI always starts one)"
fi
