# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # First steps: a scenario, its bound, a heuristic, the env and a short PPO run
#
# A jupytext percent script: run it as it is (`python docs/tutorials/first_steps.py`), or open it as a
# notebook with `jupytext --to notebook`. `TUTORIAL_BUDGET` (agent steps of the PPO run, default 20000)
# sets how long it trains; the test suite runs it end to end with a tiny budget.

# %%
import os

import gymnasium as gym
import numpy as np

from baselines import make, run_episode
from tinysim_gym import load_scenario  # importing the package registers the ids
from tinysim_gym.optimal.lp import bound

BUDGET = int(os.environ.get("TUTORIAL_BUDGET", "20000"))

# %% [markdown]
# ## A scenario and the best any policy can do
#
# `usps-l476-async-horizon`: a NUCLEO-L476RG on 0.1 mAh must serve samples arriving every ~4 ms for 50 s,
# choosing among ten USPS models. The LP bound is an upper limit on weighted accuracy for any policy.

# %%
scenario = load_scenario("usps-l476-async-horizon")
lp = bound(scenario)
print(f"{scenario.name}: LP bound on weighted accuracy {lp.weighted_accuracy:.2f} %")

# %% [markdown]
# ## A heuristic on the same scenario
#
# `budget` paces charge and busy time to follow the bound's optimal mixture. One episode on seed 0:

# %%
metrics = run_episode(scenario, make("budget", scenario), seed=0)
print(f"budget: {metrics['weighted_accuracy']:.2f} % weighted accuracy, "
      f"ran {metrics['operating_time_ms'] / 1000:.1f} s, dropped {metrics['dropped']}")
# the bound of this run's own arrivals and operating time: no policy can beat it, even by sampling luck
assert metrics["weighted_accuracy"] <= bound(scenario, observed=metrics).weighted_accuracy + 1e-6

# %% [markdown]
# ## The Gymnasium env
#
# Each step serves `decisions_per_step` decisions with the chosen model; `info["action_mask"]` says which
# models the battery can still power. The episode's figures arrive in `info["episode_metrics"]`.

# %%
env = gym.make("tinysim/TinySim-v0")
obs, info = env.reset(seed=0)
rng = np.random.default_rng(0)
done, steps = False, 0
while not done:
    action = int(rng.choice(np.flatnonzero(info["action_mask"])))
    obs, reward, terminated, truncated, info = env.step(action)
    done, steps = terminated or truncated, steps + 1
print(f"random policy: {steps} steps, {info['episode_metrics']['weighted_accuracy']:.2f} % weighted accuracy")
env.close()

# %% [markdown]
# ## A short PPO run
#
# Stable-Baselines3 trains on the registered id as on any env. With the default budget this is a minute or
# so; `tinysim train` adds reward shaping, held-out evaluation and TensorBoard (see the agents page).

# %%
from stable_baselines3 import PPO  # noqa: E402

train_env = gym.make("tinysim/TinySim-v0")
model = PPO("MlpPolicy", train_env, n_steps=max(64, min(1024, BUDGET // 4)), batch_size=64, seed=0, verbose=0)
model.learn(total_timesteps=BUDGET)

obs, info = train_env.reset(seed=0)
done = False
while not done:
    action, _ = model.predict(obs, deterministic=True)
    obs, reward, terminated, truncated, info = train_env.step(int(action))
    done = terminated or truncated
ppo = info["episode_metrics"]["weighted_accuracy"]
print(f"PPO after {BUDGET} steps: {ppo:.2f} % weighted accuracy (bound {lp.weighted_accuracy:.2f} %)")
train_env.close()
