#!/usr/bin/env bash
# tests/test_nginx.py runs a real nginx in front of Daphne (the config `manage.py nginx_config`
# prints). Install Debian's nginx when it is missing; never skip. The package's own service is not
# needed (the tests start nginx with a config of their own, on free ports).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "ensure-nginx: nginx is missing and installing it needs root (apt-get install nginx-light)" >&2; exit 1; fi
echo "ensure-nginx: installing Debian's nginx for tests/test_nginx.py"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { echo "ensure-nginx: nginx installed but not found" >&2; exit 1; }
