"""Heuristic selection policies: one small class per heuristic, usable by the engine and as SB3 policies."""
