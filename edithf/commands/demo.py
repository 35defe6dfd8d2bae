"""`edithf demo build OUT`: build the synthetic demo benchmark; `edithf demo ensure`: the cached one."""
from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="build the demo into a folder (replaces it atomically)")
    build.add_argument("out", metavar="OUT", help="the dataset folder to write")
    build.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    size = build.add_mutually_exclusive_group()
    size.add_argument("--groups", type=int, default=None,
                      help="number of groups (source image + task + prompt), each edited by every model "
                           "(default 64)")
    size.add_argument("--large", action="store_true", help="the large demo (400 groups)")
    build.add_argument("--quiet", action="store_true", help="no progress lines")
    ensure = actions.add_parser("ensure", help="build the default demo into the cache once; print its folder")
    ensure.add_argument("--cache-dir", default=None,
                        help="folder of the cached demo "
                             "(default $EDITHF_DEMO_DIR or ~/.cache/edithf/demo-<version>-seed0)")


def _printer(quiet: bool):
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        step = int(fraction * 10)
        if not quiet and (step != last[0] or fraction >= 1.0):
            last[0] = step
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
    return progress


def run(args) -> int:
    from edithf.demo import LARGE_GROUPS, build_demo, ensure_demo, summary

    if args.action == "ensure":
        print(ensure_demo(args.cache_dir, progress=_printer(False)))
        return 0
    groups = LARGE_GROUPS if args.large else args.groups
    if groups is not None and groups < 1:
        raise ValueError(f"--groups must be at least 1, got {groups}")
    path = build_demo(args.out, seed=args.seed, n_groups=groups, progress=_printer(args.quiet))
    print(summary(path))
    return 0
