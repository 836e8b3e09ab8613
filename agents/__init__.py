"""Stable-Baselines3 training and evaluation for tinysim-gym."""
