"""Headless rendering for every test: MuJoCo reads MUJOCO_GL once, when it is first imported. The package sets
it before its own first import, but a test module that imports mujoco at collection (pytest.importorskip) would
otherwise pick the default (GLFW, no display here) for the whole session and abort the next renderer."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
