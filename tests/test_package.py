"""Library hygiene that vendors rely on: one namespace, a light import, nothing started at import."""

import configparser
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = textwrap.dedent("""
    import gc, json, logging, signal, sys, threading
    handlers_before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    threads_before = threading.active_count()
    root_before = (len(logging.getLogger().handlers), logging.getLogger().level)
    import vla_lite, vla_lite.cli, vla_lite.firmware_bridge
    from vla_lite.firmware_bridge import protocol, link, doctor, arm_config
    print(json.dumps({
        "threads": threading.active_count() - threads_before,
        "signals_changed": [s.name for s, h in handlers_before.items() if signal.getsignal(s) is not h],
        "root_logging_changed": (len(logging.getLogger().handlers), logging.getLogger().level) != root_before,
        "heavy": [m for m in ("torch", "onnxruntime", "cv2", "ai_edge_litert", "tflite_runtime") if m in sys.modules],
    }))
""")


def test_import_starts_nothing_and_loads_no_heavy_framework():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert r == {"threads": 0, "signals_changed": [], "root_logging_changed": False, "heavy": []}


def test_single_import_namespace(tmp_path):
    import vla_lite.calib
    import vla_lite.export
    import vla_lite.firmware_bridge

    assert vla_lite.firmware_bridge.__name__ == "vla_lite.firmware_bridge"
    # Outside the source tree, the design card's top-level folders are not importable as top-level packages.
    probe = "import importlib.util as u; print([n for n in ('export', 'calib', 'firmware_bridge') if u.find_spec(n)])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"


def test_cli_entry_points_answer():
    out = subprocess.run([sys.executable, "-m", "vla_lite", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "doctor" in out.stdout and "sim-arm" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "vla_lite", "doctor"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--port" in bad.stderr


def test_shipped_models_are_package_data_found_by_name(tmp_path):
    """The bundles vla-lite ships sit in one folder installed with the package, and every command that takes a
    bundle takes their names too (so the README's commands work from a wheel)."""
    from vla_lite import models

    assert models.names() == ["demo", "mt10-student-int8"]
    assert models.resolve(None) == models.DEMO_BUNDLE == models.model_path("demo")
    assert models.resolve("mt10-student-int8").parent == models.MODELS_DIR
    assert models.resolve(str(tmp_path / "mine.vla")) == tmp_path / "mine.vla"  # a path stays a path
    with pytest.raises(ValueError, match=r"no shipped model 'pick'; shipped: \['demo', 'mt10-student-int8'\]"):
        models.model_path("pick")
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    assert "data/models/*.vla" in cfg["options.package_data"]["vla_lite"]
    out = subprocess.run([sys.executable, "-m", "vla_lite", "info", "mt10-student-int8"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "ee_delta" in out.stdout, out.stderr
