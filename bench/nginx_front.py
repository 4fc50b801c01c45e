"""nginx in front of a Daphne node for `bench/run.py --via-nginx`: the site `manage.py nginx_config`
prints, with a main config sized for a storm (one machine's loopback, every charger from one address,
so the handshake rate limit is raised: real fleets come from many addresses)."""
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAIN = """daemon off;
worker_processes auto;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/error.log error;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    include {d}/site.conf;
}}
"""


class NginxFront:
    """Started on `listen`, proxying to the Daphne node on `node_port`; stop() ends both."""

    def __init__(self, node, listen, node_port):
        self.node, self.pid = node, node.pid  # the node's pid: RSS is measured on Daphne
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        site = subprocess.run(
            [sys.executable, "manage.py", "nginx_config", "--listen", str(listen), "--node", f"127.0.0.1:{node_port}", "--handshake-rate", "100000"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (self.dir / "site.conf").write_text(site)
        (self.dir / "nginx.conf").write_text(MAIN.format(d=self.dir))
        self.process = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")], stderr=subprocess.DEVNULL)

    def poll(self):
        return self.process.poll() if self.node.poll() is None else self.node.poll()

    def terminate(self):
        self.process.terminate()
        self.node.terminate()

    def wait(self, timeout=None):
        deadline = time.time() + (timeout or 60)
        self.process.wait(max(0.1, deadline - time.time()))
        return self.node.wait(max(0.1, deadline - time.time()))

    def kill(self):
        self.process.kill()
        self.node.kill()
