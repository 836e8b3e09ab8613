"""The simulation core: event kernels, battery discharge, arrivals and the engine that drives them.

It imports no gymnasium, SB3, baselines or agents: the env, the heuristics and the agents all sit on top.
"""
