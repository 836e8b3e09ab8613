"""Running an export on the host: compile it with a small harness and feed it states from a binary file.

The harness (C99, ``gcc -std=c99 -O2 -Wall -Wextra -Werror``) has three modes: ``act`` reads float32
observations (and uint8 masks) and writes the int32 actions of ``tinysim_policy_act_masked``; ``obs`` reads
the engine's counters at each decision and writes the float32 features ``tinysim_obs_decision`` fills;
``decide`` (heuristics) reads ``(tick, remaining_mah, queue)`` and writes ``tinysim_policy_decide``'s model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinysim_gym.errors import TinySimError

CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")

#: one decision's counters for the ``obs`` mode: tick, remaining charge, queue, arrivals, dropped, last model
OBS_RECORD = np.dtype([("tick", "<i8"), ("remaining", "<f8"), ("queue", "<i8"), ("arrivals", "<i8"),
                       ("dropped", "<i8"), ("last", "<i8")])
DECIDE_RECORD = np.dtype([("tick", "<i8"), ("remaining", "<f8"), ("queue", "<i8")])

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tinysim_policy.h"

static void *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    void *buf;
    if (!f) exit(3);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)*size + 1);
    if (!buf || fread(buf, 1, (size_t)*size, f) != (size_t)*size) exit(4);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    long size, n, i;
    FILE *out;
    if (argc < 4) return 2;
    out = fopen(argv[3], "wb");
    if (!out) return 3;
    if (strcmp(argv[1], "act") == 0) {
        float *obs = (float *)slurp(argv[2], &size);
        long masks_size = 0;
        uint8_t *masks = argc > 4 ? (uint8_t *)slurp(argv[4], &masks_size) : 0;
        n = size / (long)(sizeof(float) * TINYSIM_OBS_DIM);
        for (i = 0; i < n; ++i) {
            int32_t a = tinysim_policy_act_masked(obs + i * TINYSIM_OBS_DIM,
                                                  masks ? masks + i * TINYSIM_N_ACTIONS : 0);
            fwrite(&a, sizeof a, 1, out);
        }
    } else if (strcmp(argv[1], "obs") == 0) {
        unsigned char *rec = (unsigned char *)slurp(argv[2], &size);
        tinysim_obs_state s;
        float obs[TINYSIM_OBS_DIM];
        n = size / 48;
        for (i = 0; i < n; ++i) {
            int64_t v[6];
            memcpy(v, rec + 48 * i, 48);
            if (v[0] < 0) {  /* a new episode */
                double r;
                memcpy(&r, &v[1], 8);
                tinysim_obs_reset(&s, r);
                continue;
            }
            memcpy(&s.remaining_mah, &v[1], 8);
            s.queue = v[2];
            s.arrivals = v[3];
            s.dropped = v[4];
            s.last_action = v[5];
            tinysim_obs_decision(&s, v[0], 0, obs);
            fwrite(obs, sizeof(float), TINYSIM_OBS_DIM, out);
        }
    }
#ifdef TINYSIM_HAS_DECIDE
    else if (strcmp(argv[1], "decide") == 0) {
        unsigned char *rec = (unsigned char *)slurp(argv[2], &size);
        n = size / 24;
        tinysim_policy_reset();
        for (i = 0; i < n; ++i) {
            int64_t t, q;
            double r;
            int32_t a;
            memcpy(&t, rec + 24 * i, 8);
            memcpy(&r, rec + 24 * i + 8, 8);
            memcpy(&q, rec + 24 * i + 16, 8);
            if (t < 0) { tinysim_policy_reset(); a = -1; }
            else a = tinysim_policy_decide(t, r, q);
            fwrite(&a, sizeof a, 1, out);
        }
    }
#endif
    fclose(out);
    return 0;
}
"""


class HostBuild:
    """An export compiled with the harness in a private directory (removed by :meth:`close`)."""

    def __init__(self, export_dir: str | os.PathLike[str], heuristic: bool = False) -> None:
        cc = shutil.which("gcc") or shutil.which("cc")
        if cc is None:
            raise TinySimError("verify: no C compiler (gcc) on PATH")
        self.dir = Path(tempfile.mkdtemp(prefix="tinysim-export-"))
        src = Path(export_dir)
        for name in ("tinysim_policy.h", "tinysim_policy.c"):
            shutil.copy(src / name, self.dir / name)
        (self.dir / "harness.c").write_text(HARNESS)
        self.exe = self.dir / "harness"
        cmd = [cc, *CFLAGS, *(["-DTINYSIM_HAS_DECIDE"] if heuristic else []), "-o", str(self.exe),
               "harness.c", "tinysim_policy.c", "-lm"]
        res = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True)
        if res.returncode != 0:
            raise TinySimError(f"verify: the export does not compile: {res.stderr.strip()[:2000]}")

    def _run(self, mode: str, data: bytes, extra: bytes | None = None) -> bytes:
        inp, out, mask = self.dir / f"{mode}.in", self.dir / f"{mode}.out", self.dir / f"{mode}.mask"
        inp.write_bytes(data)
        args = [str(self.exe), mode, str(inp), str(out)]
        if extra is not None:
            mask.write_bytes(extra)
            args.append(str(mask))
        res = subprocess.run(args, capture_output=True)
        if res.returncode != 0:
            raise TinySimError(f"verify: the harness failed ({mode}, exit {res.returncode})")
        return out.read_bytes()

    def act(self, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
        """``tinysim_policy_act_masked`` of each observation row."""
        m = None if masks is None else np.ascontiguousarray(masks, dtype=np.uint8).tobytes()
        raw = self._run("act", np.ascontiguousarray(obs, dtype=np.float32).tobytes(), m)
        return np.frombuffer(raw, dtype=np.int32).astype(np.int64)

    def observations(self, records: np.ndarray, obs_dim: int) -> np.ndarray:
        """The features ``tinysim_obs_decision`` fills for each record (:data:`OBS_RECORD`).

        A record with a negative tick starts an episode (it resets the state and writes nothing).
        """
        raw = self._run("obs", np.ascontiguousarray(records, dtype=OBS_RECORD).tobytes())
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, obs_dim)

    def decide(self, records: np.ndarray) -> np.ndarray:
        """``tinysim_policy_decide`` of each record (:data:`DECIDE_RECORD`; a negative tick resets)."""
        raw = self._run("decide", np.ascontiguousarray(records, dtype=DECIDE_RECORD).tobytes())
        return np.frombuffer(raw, dtype=np.int32).astype(np.int64)

    def close(self) -> None:
        """Remove the build directory."""
        shutil.rmtree(self.dir, ignore_errors=True)


def check(export_dir: str | os.PathLike[str], obs: np.ndarray, expected: np.ndarray,
          masks: np.ndarray | None = None) -> float:
    """Compile the export in ``export_dir`` and return the share of ``obs`` where C picks ``expected``."""
    hb = HostBuild(export_dir)
    try:
        return float(np.mean(hb.act(obs, masks) == np.asarray(expected)))
    finally:
        hb.close()


def check_decisions(export_dir: str | os.PathLike[str], records: np.ndarray, expected: np.ndarray) -> float:
    """Compile a heuristic's export and return the share of decisions where ``tinysim_policy_decide`` agrees."""
    hb = HostBuild(export_dir, heuristic=True)
    try:
        return float(np.mean(hb.decide(records) == np.asarray(expected)))
    finally:
        hb.close()
