"""The generalist's held-out split: no held-out combination can be drawn in training."""

from __future__ import annotations

from typing import Any

import pytest

from tinysim_gym.config import load_profile, load_scenario
from tinysim_gym.config.suite import load_task
from tinysim_gym.experiments.suite.transfer import combinations, heldout_groups, load_group

TRAIN = load_scenario(load_task("generalist").scenario)


def pairs(sc: Any) -> set[tuple[str, str]]:
    return {(d["board"], d["profile"]) for d in sc.randomize["device"]}


def scale(sc: Any, key: str) -> tuple[float, float] | None:
    spec = sc.randomize.get(key)
    return None if spec is None else tuple(spec["scale"])


TRAIN_PAIRS = pairs(TRAIN)
TRAIN_BOARDS = {b for b, _ in TRAIN_PAIRS}
TRAIN_PROFILES = {p for _, p in TRAIN_PAIRS}


def test_the_training_distribution_spans_boards_profiles_and_harvesters() -> None:
    assert len(TRAIN_BOARDS) >= 5 and len(TRAIN_PROFILES) >= 8
    kinds = {(d.get("harvester") or {}).get("kind") for d in TRAIN.randomize["device"]}
    assert kinds == {None, "solar", "constant"}
    sizes = {len(load_profile(p).models) for p in TRAIN_PROFILES}
    assert len(sizes) >= 3  # model sets of several sizes: the padded encoding is needed


@pytest.mark.parametrize("group", heldout_groups())
def test_every_held_out_combination_is_never_drawn_in_training(group: str) -> None:
    _, sc = load_group(group)
    boards = {b for b, _ in pairs(sc)}
    profiles = {p for _, p in pairs(sc)}
    new_device = not (pairs(sc) & TRAIN_PAIRS)
    lo, hi = scale(TRAIN, "battery.capacity_mah") or (1.0, 1.0)
    glo, ghi = scale(sc, "battery.capacity_mah") or (1.0, 1.0)
    new_range = ghi < lo or glo > hi
    assert new_device or new_range, group
    if group == "unseen-board":
        assert not boards & TRAIN_BOARDS and profiles <= TRAIN_PROFILES
    elif group == "unseen-profile":
        assert not profiles & TRAIN_PROFILES and boards <= TRAIN_BOARDS
    elif group == "unseen-both":
        assert not boards & TRAIN_BOARDS and not profiles & TRAIN_PROFILES
    else:  # a range group: training devices, a battery scale outside the training range
        assert pairs(sc) <= TRAIN_PAIRS and new_range
        ilo, ihi = scale(TRAIN, "workload.min_interval_ms") or (1.0, 1.0)
        gilo, gihi = scale(sc, "workload.min_interval_ms") or (1.0, 1.0)
        assert gihi < ilo or gilo > ihi  # the arrival interval too


def test_there_are_groups_of_every_kind_and_each_combination_is_one_device() -> None:
    names = heldout_groups()
    assert {"unseen-board", "unseen-profile", "unseen-both"} <= set(names) and len(names) >= 4
    name, sc = load_group("unseen-both")
    combos = combinations(name, sc)
    assert len(combos) == len(sc.randomize["device"])
    for (label, c), device in zip(combos, sc.randomize["device"], strict=True):
        assert c.randomize["device"] == [device] and device["board"] in label and c.name.startswith("unseen-both-")
