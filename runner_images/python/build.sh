#!/usr/bin/env bash
# Build the sandbox runner image if it is missing (works offline: see the README's set-up).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-.venv/bin/python}" -m grader.images build "$@"
