#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, user postgres, trust auth, database "test") and Redis
# (127.0.0.1:6379) are up for the test suite: start them if installed, install them from
# Debian's packages if not. Never skips: if they cannot be had, this fails loudly.
set -euo pipefail

port_open() { python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "ensure-services: need root to install $*" >&2; exit 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "ensure-services: nothing listens on port $1 after 30 s" >&2; exit 1
}

if ! port_open 5432; then
  echo "ensure-services: starting PostgreSQL"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "ocpp-dp test trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust # ocpp-dp test trust\nhost all all ::1/128 trust # ocpp-dp test trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  wait_port 5432
fi
python3 - <<'PY' || su postgres -c "createdb test" 2>/dev/null || true
import subprocess, sys
sys.exit(subprocess.call(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "select 1", "test"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
PY

if ! port_open 6379; then
  echo "ensure-services: starting Redis"
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ocpp-dp.log
  wait_port 6379
fi
# The fault drills (tests/test_faults_*.py) stop and restart private PostgreSQL and Redis servers of
# their own: they need the server binaries even where the shared services run elsewhere.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
command -v redis-server >/dev/null || apt_install redis-server
echo "ensure-services: PostgreSQL and Redis are up"
