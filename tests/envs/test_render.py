"""Rendering: the live dashboard (human), labelled frames every render_every_ms (rgb_array, rgb_array_list),
a RecordVideo of a full episode in seconds, the vector env's render, and matplotlib loaded only on demand."""

from __future__ import annotations

import pickle
import resource
import subprocess
import sys
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest

import tinysim_gym  # noqa: F401 - registers the ids
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.errors import ConfigError

MIN_W, MIN_H = 480, 320


def run_episode(env, seed=0, on_step=None):
    """Random actions until the episode ends; returns the number of steps."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    steps, done = 0, False
    while not done:
        _, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        done, steps = term or trunc, steps + 1
        if on_step is not None:
            on_step()
    return steps


def test_importing_the_env_does_not_load_matplotlib():
    code = "import sys, tinysim_gym.envs.env, tinysim_gym.envs.vector_env; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_rgb_array_frames_are_labelled_and_taken_every_render_every_ms():
    env = gym.make("tinysim/TinySim-v0", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert first.shape[1] >= MIN_W and first.shape[0] >= MIN_H
    assert env.render() is first  # no simulated time passed: the same frame, not a redraw
    seen, times = [first], []

    def grab():
        frame = env.render()
        if frame is not seen[-1]:
            seen.append(frame)
            times.append(env.unwrapped.engine.time_ms)

    steps = run_episode(env, on_step=grab)
    every = env.unwrapped.settings.render_every_ms
    assert every == 250.0  # the default: the 50 s horizon / 200
    assert steps > 3 * len(seen) and 100 <= len(seen) <= 300  # a few hundred frames, not one per step
    bins = np.floor(np.asarray(times[:-1]) / every)  # the last one is the episode's end
    assert (np.diff(bins) >= 1).all()  # at most one frame per render_every_ms of simulated time
    assert np.diff(bins).mean() < 1.5  # and about one in each (a step is ~30 ms)
    last = env.render()
    assert not np.array_equal(last, first)  # the curves grew


def test_rgb_array_list_gives_one_frame_per_sample():
    env = TinySimEnv(render_mode="rgb_array_list", decisions_per_step=16, render_every_ms=1000.0)
    env.reset(seed=0)
    frames = env.render()
    assert len(frames) == 1 and env.render() == []  # the first sample; then nothing new
    collected = list(frames)
    run_episode(env, on_step=lambda: collected.extend(env.render()))
    t_end = env.engine.time_ms
    assert abs(len(collected) - (t_end // 1000 + 2)) <= 2  # the reset's, one per second, and the end's
    assert all(f.shape == collected[0].shape for f in collected)


def test_a_full_episode_makes_a_short_video_quickly(tmp_path):
    from gymnasium.wrappers import RecordVideo  # needs moviepy (requirements.txt)
    from moviepy import VideoFileClip

    cpu0 = _cpu_s()
    wall0 = time.perf_counter()
    env = gym.make("tinysim/TinySim-v0", render_mode="rgb_array_list")
    env = RecordVideo(env, str(tmp_path), episode_trigger=lambda e: e == 0, disable_logger=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RecordVideo notes the steps that took no new frame
        steps = run_episode(env)
        env.close()
    wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    videos = list(tmp_path.glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 10_000
    clip = VideoFileClip(str(videos[0]))
    n_frames = clip.reader.n_frames
    clip.close()
    assert 100 <= n_frames <= 300 < steps  # one frame per 250 ms of simulated time, not one per step
    # CPU time of this process and its encoder, so that the other tests' load does not count
    assert cpu <= 10.0, (cpu, wall, steps)
    assert wall <= 60.0, (cpu, wall, steps)


def _cpu_s():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def test_rgb_array_frame_generation_is_fast():
    env = gym.make("tinysim/TinySim-v0", render_mode="rgb_array")
    env.reset(seed=0)
    env.render()  # the figure is built once
    t0 = time.process_time()
    run_episode(env, on_step=env.render)
    assert time.process_time() - t0 <= 10.0


def test_human_dashboard_under_agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    env = gym.make("tinysim/TinySim-v0", render_mode="human", render_every_ms=2000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot show" warnings from a non-interactive backend
        run_episode(env)
        assert env.render() is None
    board = env.unwrapped._renderer._dashboard
    assert board is not None and len(board.lines["charge"].get_xdata()) > 10
    env.close()


@pytest.mark.parametrize("mode", ["rgb_array", "rgb_array_list", "human"])
def test_gymnasium_checker_with_each_render_mode(mode):
    from gymnasium.utils.env_checker import check_env

    env = gym.make("tinysim/TinySim-v0", render_mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    clone = pickle.loads(pickle.dumps(env.unwrapped))  # the figure is left behind, the copy draws its own
    clone.reset(seed=0)
    if mode != "human":
        assert clone.render() is not None
    env.close()


def test_human_is_native_and_bad_modes_fail():
    env = gym.make("tinysim/TinySim-v0", render_mode="human")
    assert env.unwrapped.render_mode == "human"  # not gymnasium's pygame HumanRendering fallback
    assert not isinstance(env, gym.wrappers.HumanRendering)
    env.close()
    with pytest.raises(ConfigError):
        TinySimEnv(render_every_ms=0)
    with pytest.raises(ConfigError):
        gym.make_vec("TinySim-v0", num_envs=2, render_mode="human")


def test_make_vec_renders_the_first_copy():
    venv = gym.make_vec("tinysim/TinySim-v0", num_envs=3, render_mode="rgb_array")
    venv.reset(seed=0)
    frame = venv.render()
    assert isinstance(frame, np.ndarray) and frame.shape[1] >= MIN_W and frame.shape[0] >= MIN_H
    for _ in range(60):
        venv.step(np.array([1, 2, 3]))
    later = venv.render()
    assert not np.array_equal(frame, later)
    single = TinySimEnv(render_mode="rgb_array", **{k: v for k, v in gym.spec("tinysim/TinySim-v0").kwargs.items()})
    single.reset(seed=0)
    for _ in range(60):
        single.step(1)
    assert np.array_equal(single.render(), later)  # sub-env 0 is the single env seeded alike
    venv.close()
    sync = gym.make_vec("tinysim/TinySim-v0", num_envs=2, vectorization_mode="sync", render_mode="rgb_array")
    sync.reset(seed=0)
    frames = sync.render()
    assert len(frames) == 2 and frames[0].shape == frame.shape
    sync.close()
