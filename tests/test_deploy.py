"""deploy/: the systemd units and the env template stay what the README promises."""
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_daphne_command():
    line = next(line for line in README.splitlines() if line.startswith("daphne ") and "ocpp_dp.asgi:application" in line)
    return shlex.split(line)


def unit(name):
    text = (ROOT / "deploy" / name).read_text()
    return {key: value for key, _, value in (line.partition("=") for line in text.splitlines() if "=" in line and not line.startswith("#"))}


def test_the_daphne_unit_runs_every_flag_the_readme_names():
    readme = readme_daphne_command()
    service = shlex.split(unit("ocpp-daphne@.service")["ExecStart"])
    flags = [token for token in readme if token.startswith("--")]
    assert flags and all(flag in service for flag in flags), set(flags) - set(service)
    for flag in ("--websocket_timeout", "--websocket_connect_timeout", "--ping-interval"):
        assert service[service.index(flag) + 1] == readme[readme.index(flag) + 1]
    endpoint = service[service.index("-e") + 1]
    assert "backlog=4096" in endpoint and "interface=127.0.0.1" in endpoint and "port=%i" in endpoint
    assert int(unit("ocpp-daphne@.service")["LimitNOFILE"]) >= 65536


def test_every_variable_of_the_env_template_is_a_documented_setting():
    documented = set(re.findall(r"^\| `([A-Z_]+)`", README, flags=re.M))
    template = (ROOT / "deploy" / "ocpp.env.example").read_text()
    names = [line.split("=", 1)[0] for line in template.splitlines() if line and not line.startswith("#")]
    assert names and not set(names) - documented, set(names) - documented
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(names)


def test_each_unit_reads_the_shared_env_file_and_restarts():
    for name in ("ocpp-daphne@.service", "ocpp-celery-worker.service", "ocpp-celery-beat.service"):
        fields = unit(name)
        assert fields["EnvironmentFile"] == "/etc/ocpp/ocpp.env" and fields["Restart"] == "always", name
