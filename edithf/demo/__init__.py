"""The synthetic demo benchmark (docs/demo.md): editing tasks (`edits`), programmatic editors
and their measured truth (`editors`), a simulated annotator panel (`panel`), and the build that
writes a processed dataset folder (`build`).

    from edithf.demo import build_demo, ensure_demo
"""
from edithf.demo.build import (DEFAULT_GROUPS, DEMO_NAME, DEMO_VERSION, IMAGE_SIZE, LARGE_GROUPS, build_demo,
                               build_raw_demo, default_demo_dir, demo_photos, ensure_demo, summary)

__all__ = ["build_demo", "ensure_demo", "build_raw_demo", "demo_photos", "summary", "default_demo_dir",
           "DEMO_NAME", "DEMO_VERSION", "DEFAULT_GROUPS", "LARGE_GROUPS", "IMAGE_SIZE"]
