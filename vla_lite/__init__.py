"""vla-lite: language-conditioned robot policies on a CPU.

Importing this package configures no logging, installs no signal handlers and starts no threads; heavy
dependencies (onnxruntime, LiteRT, OpenCV, torch) are imported by the modules that use them.
"""

__version__ = "0.1.0"
