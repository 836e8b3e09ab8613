"""A tiny board and a three-model profile whose optimal-control problems are small enough to brute-force."""

from __future__ import annotations

TINY_BOARD = {"name": "tiny", "inference_current_ma": 10.0, "idle_current_ma": 0.01}
TINY_PROFILE = {
    "name": "tiny3",
    "models": [
        {"id": "big", "accuracy": 90.0, "latency_ms": 0.05},
        {"id": "mid", "accuracy": 80.0, "latency_ms": 0.02},
        {"id": "small", "accuracy": 60.0, "latency_ms": 0.01},
    ],
}
