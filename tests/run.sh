#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: makes .venv, installs Ringtrail with its
# test extras, installs Debian's chromium and chromium-driver if they are missing, runs
# pytest. Extra arguments go to pytest. Set RINGTRAIL_TEST_DATABASE_URL to also run the
# storage tests on PostgreSQL, and RINGTRAIL_TEST_REDIS_URL to use a Redis of your own.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${RINGTRAIL_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "tests/run.sh: installing Debian's chromium and chromium-driver for the browser tests"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

exec "$venv/bin/python" -m pytest "$@"
