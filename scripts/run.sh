#!/usr/bin/env bash
# `make run`: prepare the database, the challenges, Redis and demo data, then run the web app
# and a grading worker together (honcho, from the Procfile). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-5000}"

if ! python - <<'PY'
import os, sys
from redis import Redis
try:
    Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
except Exception:
    sys.exit(1)
PY
then
    if command -v redis-server >/dev/null; then
        port=$(python -c "from urllib.parse import urlparse; import os; print(urlparse(os.environ['REDIS_URL']).port or 6379)")
        echo "run: Redis does not answer at $REDIS_URL; starting a local redis-server on port $port"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no
        sleep 1
    else
        echo "run: Redis does not answer at $REDIS_URL and redis-server is not installed." >&2
        echo "     Install it (apt-get install redis-server) or set REDIS_URL to a running Redis." >&2
        exit 1
    fi
fi

flask db upgrade
flask sync
flask demo --base-url "http://$HOST:$PORT"
echo "run: Faultline on http://$HOST:$PORT (staff log in at /login; Ctrl-C stops the web app and the workers)"
exec honcho start -f Procfile web worker background
