"""Bad input on the command line ends in one line naming what was wrong, never a traceback (issue 16, item 9).
Each row runs `python -m vla_lite ...` as a user would and checks the exit status, the words on stderr and, for
`--json`, a JSON error object on stdout."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from vla_lite.models import DEMO_BUNDLE

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")


@pytest.fixture(scope="module")
def deep_bundle(tmp_path_factory):
    """A .vla whose manifest is 100,000 nested '[' (it once gave RecursionError from info, run and bench)."""
    path = tmp_path_factory.mktemp("deep") / "deep.vla"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", "[" * 100_000)
    return str(path)


NON_UTF8 = os.fsdecode(b"touch the \xff\xfe red block")  # how Python hands non-UTF-8 argv bytes to the program

# (arguments, exit status, words stderr must hold, JSON on stdout)
CASES = [
    (["run", "--port", "sim", "--instruction-socket", "70000"], 2, ["--instruction-socket", "0-65535"], False),
    (["run", "--port", "sim", "--instruction-fifo", "/nonexistent_dir/f"], 2, ["/nonexistent_dir"], False),
    (["run", "--port", "sim", "--cpus", "abc"], 2, ["--cpus", "'abc'"], False),
    (["run", "--port", "sim", "--instruction", ""], 2, ["--instruction", "empty"], False),
    (["run", "--port", "sim", "--instruction", "x" * 10_000], 2, ["--instruction", "limit is 1024 bytes"], False),
    (["run", "--port", "sim", "--instruction", NON_UTF8], 2, ["--instruction", "not UTF-8"], False),
    (["run", "--port", "sim", "--instruction", "touch \x1b[2J the block"], 2, ["control character U+001B"], False),
    (["run", "--port", "sim", "--min-instruction-similarity", "2"], 2, ["--min-instruction-similarity", "(-1, 1]"],
     False),
    (["run", "--port", "sim", "--rate", "abc"], 2, ["--rate", "'abc'"], False),
    (["run", "--port", "sim", "--model", "{deep}"], 2, ["deep.vla", "nests"], False),
    (["info", "{deep}", "--json"], 1, ["deep.vla", "nests"], True),
    (["bench", "{deep}", "--json"], 1, ["deep.vla", "nests"], True),
    (["bench", "demo", "--iters", "0", "--json"], 2, ["--iters"], True),
    (["doctor", "--port", "socket://localhost:notaport"], 2, ["TCP port", "'notaport'"], False),
    (["doctor", "--port", "socket://localhost"], 2, ["HOST:PORT"], False),
    (["demo-data", "--out", "/proc/nope", "--episodes", "1"], 2, ["'/proc/nope'", "cannot be created"], False),
    (["run", "--port", "sim", "--record", "/proc/nope"], 2, ["'/proc/nope'", "cannot be created"], False),
    (["doctor", "--arm", "so101", "--port", "socket://localhost:notaport"], 2, ["TCP port", "'notaport'"], False),
]


@pytest.mark.parametrize("args, status, words, as_json", CASES, ids=lambda v: None)
def test_bad_input_is_one_line_never_a_traceback(args, status, words, as_json, deep_bundle):
    args = [a.replace("{deep}", deep_bundle) for a in args]
    out = subprocess.run([sys.executable, "-m", "vla_lite", *args], capture_output=True, timeout=120)
    err = out.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in err and out.returncode == status, (out.returncode, err)
    assert all(w in err for w in words), err
    assert "debug|info|warning|error" not in err
    if as_json:
        obj = json.loads(out.stdout)
        assert obj["ok"] is False and all(w in obj["error"] for w in words if not w.startswith("--")), obj


def test_a_fifo_that_run_created_is_removed_at_exit(tmp_path):
    fifo = tmp_path / "instructions"
    out = subprocess.run([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--duration", "1", "--quiet",
                          "--instruction-fifo", str(fifo)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not fifo.exists(), "the FIFO that run created is left behind"
