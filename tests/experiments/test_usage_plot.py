"""The model-usage figure: a band per model used, and an episode without a single inference still draws."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tinysim_gym.experiments.usage_plot import draw_usage, usage_image


def test_one_band_per_model_that_served_a_sample():
    usage = {"time_ms": [0.0, 1000.0, 2000.0], "counts": [[0, 0, 0], [3, 0, 1], [4, 0, 5]],
             "model_ids": ["a", "b", "c"]}
    ax = Figure().subplots()
    draw_usage(ax, usage, "t")
    assert len(ax.collections) == 2  # model b never ran: no band
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model a", "model c"]


def test_an_episode_with_no_inference_draws_a_note_instead_of_failing():
    usage = {"time_ms": [0.0, 500.0, 1000.0], "counts": [[0, 0, 0]] * 3, "model_ids": ["x", "y", "z"]}
    image = usage_image(usage, "all skipped")
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    ax = Figure().subplots()
    draw_usage(ax, usage, "all skipped")
    assert not ax.collections and any("no inference" in t.get_text() for t in ax.texts)
