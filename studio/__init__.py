"""EditHF Studio: the Gradio UI over the `edithf` library (`studio.app.build_studio`)."""
from __future__ import annotations


def build_studio(*args, **kwargs):
    """Build the studio's gr.Blocks (see studio.app.build_studio)."""
    from studio.app import build_studio as _build

    return _build(*args, **kwargs)


__all__ = ["build_studio"]
