"""Recording never loses a run to its instruction text (issue 16, defect 3): non-UTF-8 bytes are refused where they
come in, at start in one line, mid-run with a refusal line while the run goes on, and what was recorded reads back."""

import json
import re
import subprocess
import sys
import time

import pytest

from vla_lite.models import DEMO_BUNDLE
from vla_lite.recording import list_episodes, read_episode

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")

RUN = [sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--quiet"]


def test_the_issue_reproduction_is_refused_in_one_line_at_start_and_records_nothing(tmp_path):
    # `--instruction "$(printf 'touch the \xff\xfe red block')"`: the bytes reach Python as surrogate escapes
    out = subprocess.run([*RUN, "--duration", "4", "--record", str(tmp_path / "r"),
                          b"--instruction", b"touch the \xff\xfe red block"], capture_output=True, timeout=120)
    err = out.stderr.decode("utf-8", "backslashreplace")
    assert out.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "--instruction" in err and "not UTF-8" in err
    assert not (tmp_path / "r").exists() or list_episodes(tmp_path / "r", include_partial=True) == []


def test_a_non_utf8_line_mid_run_is_refused_and_the_run_and_its_recording_go_on(tmp_path):
    report, rec = tmp_path / "report.json", tmp_path / "rec"
    proc = subprocess.Popen([*RUN, "--duration", "8", "--record", str(rec), "--report", str(report),
                             "--instruction-stdin", "--episode-timeout", "60"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(4.0)  # the loop is running by now
        proc.stdin.write(b"touch the \xff\xfe red block\ntouch the green block\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    err = err.decode("utf-8", "backslashreplace")
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert re.search(r"instruction from stdin refused: not UTF-8 text \(byte 0xff at offset 10\)", err), err
    assert "instruction from stdin: 'touch the green block'" in err
    assert json.loads(report.read_text())["ticks"] > 100
    episodes = [read_episode(p) for p in list_episodes(rec, include_partial=True)]
    assert episodes and all(len(ep) > 0 for ep in episodes)
    assert any("touch the green block" in ep.instructions for ep in episodes)
    assert not any(p.name.endswith(".partial") for p in list_episodes(rec, include_partial=True))
