"""`edithf studio`: launch the Gradio studio (the same as `python app.py`).

The studio is its own package (`studio/`, the `[studio]` extra): it is started as
`python -m studio` in a child process, so the library never imports the UI."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

OPTIONS = ("host", "port", "dataset", "scorer", "runs_dir")


def add_arguments(parser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 to serve a "
                        "network, then set EDITHF_AUTH=user:password)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--dataset", default=None, help="dataset folder to open (default: the built-in demo)")
    parser.add_argument("--scorer", default=None, help="scorer selected at start (default classic; "
                        "e.g. edithf:runs/my-run/best)")
    parser.add_argument("--runs-dir", default=None, help="where Train/DPO runs and the job database go (default runs)")


def studio_command(args) -> list[str]:
    """`python -m studio` with the options that were given."""
    command = [sys.executable, "-m", "studio"]
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def run(args) -> int:
    missing = [m for m in ("studio", "gradio") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"the studio needs its extra: pip install -e '.[studio]' (missing: {', '.join(missing)})")
    try:
        return subprocess.call(studio_command(args))
    except KeyboardInterrupt:  # Ctrl-C reached the studio too; it has stopped
        return 130
