#!/usr/bin/env bash
# README command (1): set up and run the platform on its embedded default.
#
#   bash infra/run.sh [--host 127.0.0.1] [--port 8000]
#
# Creates .venv if missing, installs the project (skipped when nothing changed), then
# `wattpass run`: migrates the SQLite file under var/, loads the demo data (logins in
# var/demo-credentials.json) and serves the API until Ctrl-C. DATABASE_URL, SECRET_KEY
# and the other variables of backend/config.py override the defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=infra/setup.sh
source infra/setup.sh
setup_venv ""
exec .venv/bin/wattpass run "$@"
