"""``tinysim build-kernels``: compile the kernels of one-off runs ahead of time, so they start without numba.

``make install`` runs it. It writes one shared library per kernel that declares an ahead-of-time signature
(the engine's kernels, the arrival draws, the published selectors' loops) into a directory keyed by the
installed sources, numba, Python and the CPU; a command finds them there and falls back to numba when any of
those changed. Needs numba and a C compiler (``cc``/``gcc``, or ``CC``); already built libraries are kept.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any

from tinysim_gym.cli.common import dumps
from tinysim_gym.errors import TinySimError


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    p = sub.add_parser("build-kernels", help="compile the one-off runs' kernels ahead of time (no numba at start)",
                       description=__doc__)
    p.add_argument("--force", action="store_true", help="build every library again, even one already built")
    p.add_argument("--json", action="store_true", help="print the libraries as JSON [{kernel, path, built, seconds}]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the missing libraries and list them."""
    import baselines
    import tinysim_gym.core
    from tinysim_gym.core import aot_build

    for package in (tinysim_gym.core, baselines):  # every module, so that every declared kernel is known
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    built = aot_build.build(force=args.force)
    if not built:
        raise TinySimError("build-kernels: no kernel declares an ahead-of-time signature (nothing to build)")
    rows = [{"kernel": b.kernel, "path": str(b.path), "built": b.built, "seconds": round(b.seconds, 3)} for b in built]
    if args.json:
        print(dumps(rows))
    else:
        for r in rows:
            print(f"{'built' if r['built'] else 'kept '} {r['kernel']}  {r['path']}")
    return 0
