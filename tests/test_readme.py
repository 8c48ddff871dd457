"""The README is what users copy: its Python examples run as written, and every `vla-lite` command and option it
shows exists in the CLI."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SHELL_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)


def test_readme_has_examples():
    assert len(PYTHON_BLOCKS) >= 2 and len(SHELL_BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_example_runs_as_written(index, tmp_path):
    # Run outside the source tree, as a user of the installed package would.
    out = subprocess.run([sys.executable, "-c", PYTHON_BLOCKS[index]], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip(), "each example prints what it found"


def _vla_lite_invocations():
    """(subcommand, [--options]) for every `vla-lite SUB ...` line in the README's shell blocks."""
    found = []
    for block in SHELL_BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0]
            for m in re.finditer(r"vla-lite ([a-z][a-z-]*)((?:\s+(?!&&)[^\s&|;]+)*)", line):
                found.append((m.group(1), re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", m.group(2))))
    return found


def test_every_shown_command_and_option_exists():
    invocations = _vla_lite_invocations()
    assert {"run", "doctor", "info", "bench", "train", "distill", "export", "eval"} <= {s for s, _ in invocations}
    helps: dict[str, str] = {}
    for sub, options in invocations:
        if sub not in helps:
            out = subprocess.run([sys.executable, "-m", "vla_lite", sub, "--help"], capture_output=True, text=True,
                                 timeout=120)
            assert out.returncode == 0, (sub, out.stderr[-2000:])
            helps[sub] = out.stdout
        for opt in options:
            assert re.search(re.escape(opt) + r"\b", helps[sub]), f"README shows `vla-lite {sub} {opt}`, not in --help"
