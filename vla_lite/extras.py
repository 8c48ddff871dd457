"""The optional parts of vla-lite (setup.cfg extras) and how to install each: one line, never a traceback.

The robot side needs only numpy, pyserial, onnxruntime, OpenCV and safetensors. Everything else is an extra,
imported by the module that uses it, so a missing one surfaces as ModuleNotFoundError deep in a call.
`import_optional` (used by the CLI for its offline commands and by `bench --torch` for its PyTorch baseline) and
`missing_extra` turn that into `MissingExtra`, whose message names the extra and the command that installs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Extra:
    name: str  # as in setup.cfg extras_require
    modules: tuple[str, ...]  # top-level modules it provides
    install: str  # the command that installs it


OFFLINE_INSTALL = "pip install torch==2.13.0 && pip install 'vla-lite[offline]' (a bare `torch` pulls a CUDA build)"
EXTRAS = {e.name: e for e in (
    Extra("offline", ("torch", "onnx", "onnxscript", "tokenizers", "pyarrow", "h5py", "matplotlib"), OFFLINE_INSTALL),
    Extra("metaworld", ("metaworld", "mujoco", "packaging"),
          "pip install 'vla-lite[metaworld]' (Meta-World 3.1.1; headless rendering: MUJOCO_GL=egl or osmesa)"),
    Extra("tflite", ("ai_edge_litert", "tflite_runtime"), "pip install 'vla-lite[tflite]'"),
    Extra("tflite-export", ("litert_torch", "ai_edge_quantizer"), "pip install 'vla-lite[tflite-export]'"),
)}


class MissingExtra(ModuleNotFoundError):
    """An optional part is not installed; the message says which extra and how to install it."""

    def __init__(self, extra: Extra, missing: str, what: str | None = None):
        self.extra, self.missing = extra, missing
        needs = f"{what} needs" if what else "needs"
        super().__init__(f"{needs} the {extra.name} extra ({missing} is not installed): {extra.install}",
                         name=missing)


def extra_providing(module: str) -> Extra | None:
    """The extra whose top-level module `module` (or its parent package) belongs to."""
    top = module.split(".")[0]
    return next((e for e in EXTRAS.values() if top in e.modules), None)


def missing_extra(exc: BaseException, what: str | None = None) -> MissingExtra | None:
    """`exc` as MissingExtra when it is a ModuleNotFoundError for a module an extra provides, else None."""
    if isinstance(exc, MissingExtra):
        return exc
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    extra = extra_providing(exc.name)
    return None if extra is None else MissingExtra(extra, exc.name.split(".")[0], what)


def import_optional(module: str, what: str | None = None) -> ModuleType:
    """importlib.import_module(module); a missing module of an extra raises MissingExtra instead."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = missing_extra(exc, what)
        if missing is None:
            raise
        raise missing from exc
