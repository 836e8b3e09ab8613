"""Optimal-policy references: the fluid LP bound on weighted accuracy."""
