#!/usr/bin/env bash
# Runs the bot: creates .venv on first use, installs the pinned dependencies, migrates, starts.
# Settings come from the environment or .env (see .env.example). Extra arguments go to `python -m bot`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  touch .venv/.installed
fi
exec .venv/bin/python -m bot "${@:-run}"
