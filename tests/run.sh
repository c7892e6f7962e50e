#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: makes .venv, installs Ringtrail with its
# test extras, installs Debian's chromium and chromium-driver (and libreoffice-calc-nogui,
# for the spreadsheet test) if they are missing, runs
# pytest. Extra arguments go to pytest. The storage and fault tests also run on
# PostgreSQL: without RINGTRAIL_TEST_DATABASE_URL, it installs Debian's postgresql if
# missing, starts it and uses the database ringtrail_test on 127.0.0.1:5432 (wiped).
# RINGTRAIL_TEST_REDIS_URL uses a Redis of your own instead of the embedded one.
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

if ! command -v soffice >/dev/null 2>&1; then
  # tests/reports/test_spreadsheets.py opens the CSV exports in LibreOffice Calc.
  echo "tests/run.sh: installing Debian's libreoffice-calc-nogui for the spreadsheet test"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    libreoffice-calc-nogui >/dev/null
fi

if [ -z "${RINGTRAIL_TEST_DATABASE_URL:-}" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "tests/run.sh: installing PostgreSQL"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "tests/run.sh: starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
      $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "tests/run.sh: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
    exit 1
  fi
  db=ringtrail_test
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  fi
  export RINGTRAIL_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$db"
fi

exec "$venv/bin/python" -m pytest "$@"
