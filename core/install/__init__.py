"""install.py's machinery: environment, onnxruntime build, models, OBS and ComfyUI hookup, self-check.

Nothing in the swap pipeline imports this package; it imports the pipeline only for the
self-check. Standard library only at import time: install.py loads it before anything is installed.
"""
