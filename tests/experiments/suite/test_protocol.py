"""The protocol: held-out evaluation seeds never used in training, and the normalised score."""

from __future__ import annotations

import pytest

from agents import hyperparams as H
from agents.training import train_seed_base
from agents.warm_start import SEED_OFFSET
from tinysim_gym.config import load_scenario
from tinysim_gym.config.suite import load_task, task_names
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.suite.protocol import MAX_EVAL_SEEDS, eval_seeds, normalised
from tinysim_gym.experiments.suite.training import train_cells


def test_eval_seeds_are_1000_on() -> None:
    assert eval_seeds() == list(range(1000, 1020))
    assert eval_seeds(3) == [1000, 1001, 1002]
    for bad in (0, MAX_EVAL_SEEDS + 1, True, 2.0):
        with pytest.raises(TinySimError, match="--seeds"):
            eval_seeds(bad)


def test_training_never_starts_an_episode_from_an_evaluation_seed() -> None:
    """Every seed a suite training cell's envs start from, and its held-out checks, miss 1000..9999."""
    evaluation = set(eval_seeds(MAX_EVAL_SEEDS))
    tasks = [load_task(n) for n in task_names()]
    for cell in train_cells(tasks, "ppo", range(3)):
        hp, _ = H.load("ppo", load_scenario(cell["scenario"]).name, overrides=cell["overrides"])
        n_envs = hp["n_envs"]
        # a resume continues from base + steps done: the base alone must leave room for a whole run
        base = train_seed_base(cell["seed"])
        used = set(range(base, base + n_envs + hp["n_timesteps"]))
        used |= set(hp["eval_seeds"])
        ws = hp.get("warm_start")
        if ws:  # the teacher's episodes: in the seed's own block, clear of the next seed's
            demos = set(range(base + SEED_OFFSET, base + SEED_OFFSET + ws["episodes"]))
            assert max(demos) < train_seed_base(cell["seed"] + 1), cell["name"]
            used |= demos
        assert not used & evaluation, cell["name"]


def test_normalised_score_closed_form() -> None:
    assert normalised(90.0, 80.0, 100.0) == pytest.approx(50.0)
    assert normalised(80.0, 80.0, 100.0) == 0.0 and normalised(100.0, 80.0, 100.0) == 100.0
    assert normalised(110.0, 80.0, 100.0) == pytest.approx(150.0)
    assert normalised(90.0, 80.0, 80.0) is None and normalised(None, 1.0, 2.0) is None


def test_the_training_env_starts_from_the_seed_base(tmp_path) -> None:
    """SB3's constructor seeds the env with the model's seed; training seeds it back to its own block.

    Otherwise training seeds 0, 1 and 2 would start their sub-envs from 0..7, 1..8 and 2..9: seven of eight
    episode streams shared between the three seeds.
    """
    import yaml

    from agents.training import _new_setup
    from baselines.policy import engines_of
    from tests.support.suite_tasks import TINY

    tiny = {**TINY, "name": "tiny-seeds", "battery": {"capacity_mah": 0.001}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    runs = tmp_path / "runs"
    setup = _new_setup("ppo", str(tmp_path / "tiny.yaml"), 64, 1, runs, None, {"n_envs": 3})
    venv = setup[7]
    venv.reset()
    assert [e.seed for e in engines_of(venv)] == [train_seed_base(1) + i for i in range(3)]
    assert not runs.exists()  # nothing written before training starts
