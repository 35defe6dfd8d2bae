"""EditHF Studio: `python app.py` (or `edithf studio`), also the Hugging Face Space entry point.

Offline by design: no analytics, the built-in demo benchmark (built on first start) and the
`classic` scorer, which needs no weights. Settings by environment: EDITHF_SCORER (e.g.
`edithf:runs/my-run/best`), EDITHF_DATASET, EDITHF_RUNS_DIR, EDITHF_CACHE_DIR,
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets these), EDITHF_AUTH=user:password (a
login in front of the studio; set it on a Space, see docs/studio.md "Security").
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if __name__ == "__main__":  # `python app.py [--port P ...]`: the options of `edithf studio` (--help lists them)
    from studio.__main__ import main

    raise SystemExit(main())

from studio.app import build_studio  # noqa: E402

demo = build_studio()  # what `gradio app.py` (reload mode) imports
