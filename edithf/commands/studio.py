"""`edithf studio`: launch the Gradio studio (the same as `python app.py`)."""
from __future__ import annotations

import os


def add_arguments(parser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 to serve a network)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--dataset", default=None, help="dataset folder to open (default: the built-in demo)")
    parser.add_argument("--scorer", default=None, help="scorer selected at start (default classic; "
                        "e.g. edithf:runs/my-run/best)")
    parser.add_argument("--runs-dir", default=None, help="where Train/DPO runs and the job database go (default runs)")


def run(args) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        from studio.app import build_studio, launch_studio
        from studio.state import Settings
    except ImportError as exc:
        raise ValueError(f"the studio needs its extra: pip install -e '.[studio]' ({exc})") from exc
    from pathlib import Path

    settings = Settings.from_env(dataset=args.dataset, scorer=args.scorer,
                                 runs_dir=Path(args.runs_dir) if args.runs_dir else None)
    launch_studio(build_studio(settings), host=args.host, port=args.port)
    return 0
