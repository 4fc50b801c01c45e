"""ocpp_dp/gc_tuning.py and ocpp_dp/autobahn_tuning.py: what a server process runs with, and what a deployer may set."""
import subprocess
import sys

import pytest

from ocpp_dp.gc_tuning import DEFAULT, thresholds

from .conftest import ROOT


def run_in_server_process(code, **env):
    """Run `code` in a fresh interpreter (as the server starts); its printed lines."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={"PATH": "/usr/bin:/bin", "OCPP_VAR_DIR": "/tmp", **env}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.splitlines()


def test_thresholds_from_the_setting():
    assert thresholds("") == DEFAULT
    assert thresholds(" 5000,10,10 ") == (5000, 10, 10)
    assert thresholds("python") is None
    with pytest.raises(ValueError, match="three positive numbers"):
        thresholds("100000,0")


@pytest.mark.parametrize("setting, expected", [("", DEFAULT), ("python", (700, 10, 10)), ("2000,5,5", (2000, 5, 5))])
def test_the_asgi_application_runs_with_them(setting, expected):
    code = "import gc, ocpp_dp.asgi; print(gc.get_threshold(), gc.get_freeze_count() > 0)"
    assert run_in_server_process(code, OCPP_GC_THRESHOLD=setting)[-1] == f"{expected} {setting != 'python'}"


def test_autobahn_logs_nothing_formatted_while_its_debug_logging_is_off():
    """ocpp_dp/autobahn_tuning.py: its log calls' arguments are not coloured/pformatted for nothing."""
    code = (
        "import ocpp_dp.asgi\n"
        "from autobahn.websocket import protocol\n"
        "from autobahn.twisted import websocket\n"
        "print(protocol.hltype(print), protocol.hlval(42), websocket.hltype(len), protocol.pformat({'a': 1})[:14])"
    )
    assert run_in_server_process(code)[-1] == "<callable> 42 <callable> (not formatted"
