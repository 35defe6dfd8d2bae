"""`python -m studio [--host H] [--port P] [--dataset DIR] [--scorer NAME] [--runs-dir DIR]`:
launch the studio (what `edithf studio` runs, in its own process, so that `edithf/` never
imports `studio/`)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    from edithf.commands.studio import add_arguments  # the same options as `edithf studio`

    parser = argparse.ArgumentParser(prog="python -m studio", description="Launch EditHF Studio.")
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from studio.app import build_studio, launch_studio
    from studio.state import Settings

    settings = Settings.from_env(dataset=args.dataset, scorer=args.scorer,
                                 runs_dir=Path(args.runs_dir) if args.runs_dir else None)
    launch_studio(build_studio(settings), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
