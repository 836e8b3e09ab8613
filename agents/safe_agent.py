"""A policy loaded from the safe format, acting like an SB3 model: ``predict``, spaces, normalisation inside.

:class:`SafeAgent` stands in for an SB3 algorithm wherever only acting is needed (evaluation, sweeps,
export): it has ``policy``, ``observation_space``, ``action_space`` and an SB3-style :meth:`SafeAgent.predict`
that normalises the observations itself, so callers pass raw env observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.safe_description import AgentDescription, NormalizationDescription


@dataclass(frozen=True)
class ObsNormalizer:
    """``VecNormalize.normalize_obs`` from saved statistics (frozen: evaluation never updates them)."""

    mean: np.ndarray
    var: np.ndarray
    count: float
    clip_obs: float
    epsilon: float
    norm_obs: bool

    @classmethod
    def from_description(cls, d: NormalizationDescription) -> ObsNormalizer:
        """The normaliser of a description's ``normalization`` section."""
        return cls(np.asarray(d.obs_rms.mean, np.float64), np.asarray(d.obs_rms.var, np.float64),
                   float(d.obs_rms.count), d.clip_obs, d.epsilon, d.norm_obs)

    @property
    def obs_rms(self) -> Any:
        """The statistics as SB3's ``RunningMeanStd`` (for code that reads ``normalizer.obs_rms``)."""
        from stable_baselines3.common.running_mean_std import RunningMeanStd

        rms = RunningMeanStd(shape=self.mean.shape)
        rms.mean, rms.var, rms.count = self.mean.copy(), self.var.copy(), self.count
        return rms

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """Normalised observations, float32, exactly as ``VecNormalize.normalize_obs`` computes them."""
        if not self.norm_obs:
            return np.array(obs, copy=True)
        x = np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip_obs, self.clip_obs)
        return x.astype(np.float32)


@dataclass(frozen=True)
class SafeAgent:
    """A saved agent ready to act.

    Attributes:
        path: its description file.
        description: the validated description.
        policy: the rebuilt SB3 policy (weights loaded, evaluation mode).
        normalizer: its observation normaliser, or None.
    """

    path: Path
    description: AgentDescription
    policy: Any
    normalizer: ObsNormalizer | None

    @property
    def algo(self) -> str:
        """``ppo``, ``a2c``, ``dqn`` or ``maskable_ppo``."""
        return self.description.algorithm

    @property
    def masked(self) -> bool:
        """Whether the algorithm itself uses action masks (MaskablePPO)."""
        return self.algo == "maskable_ppo"

    @property
    def observation_space(self) -> Any:
        """The observation space the policy was trained on."""
        return self.policy.observation_space

    @property
    def action_space(self) -> Any:
        """The action space (``Discrete``)."""
        return self.policy.action_space

    @property
    def observation_features(self) -> list[str] | None:
        """The names of the observation entries, when they were saved."""
        return self.description.observation_features

    @property
    def obs_rms(self) -> Any:
        """The observation statistics (``RunningMeanStd``), or None without normalisation."""
        return None if self.normalizer is None else self.normalizer.obs_rms

    @property
    def extra(self) -> dict[str, Any]:
        """The free metadata saved with it (scenario, env config, ...)."""
        return self.description.extra

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` as the policy sees it (unchanged without a normaliser)."""
        obs = np.asarray(obs)
        return obs if self.normalizer is None else self.normalizer.normalize_obs(obs)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for raw observations, as SB3's ``predict`` (which does not normalise; this does).

        Args:
            observation: one observation or a batch.
            state: recurrent state (unused by these policies; returned as given).
            episode_start: unused, as in SB3 for non-recurrent policies.
            deterministic: the most likely action (False: sample; DQN is always greedy here, since its
                exploration belongs to the algorithm, not the policy).
            action_masks: allowed actions (True = allowed), shape ``(batch, n)``; MaskablePPO uses them as
                in training, other algorithms mask their logits or Q-values.

        Returns:
            The actions and ``state``.
        """
        obs = self.normalize_obs(observation)
        if self.masked:
            return self.policy.predict(obs, state, episode_start, deterministic, action_masks=action_masks)
        if action_masks is None:
            return self.policy.predict(obs, state, episode_start, deterministic)
        return self._masked_predict(obs, action_masks, deterministic), state

    def act(self, obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """``act(obs, masks) -> actions``, the evaluation rollout's contract: greedy, int64, one per row.

        Masks are applied for MaskablePPO only, as the SB3 model acts in evaluation.
        """
        actions, _ = self.predict(obs, deterministic=True, action_masks=masks if self.masked else None)
        return np.asarray(actions, dtype=np.int64).reshape(-1)

    def _masked_predict(self, obs: np.ndarray, masks: np.ndarray, deterministic: bool) -> np.ndarray:
        import torch as th

        obs_t, vectorized = self.policy.obs_to_tensor(obs)
        n = int(self.action_space.n)
        allowed = th.as_tensor(np.asarray(masks, dtype=bool).reshape(-1, n))
        with th.no_grad():
            if self.algo == "dqn":
                scores = self.policy.q_net(obs_t)
            else:
                scores = self.policy.get_distribution(obs_t).distribution.logits
            scores = th.where(allowed, scores, th.tensor(-th.inf, dtype=scores.dtype))
            if deterministic or self.algo == "dqn":
                actions = scores.argmax(dim=1)
            else:
                actions = th.distributions.Categorical(logits=scores).sample()
        out = actions.cpu().numpy().reshape(-1)
        return out if vectorized else out.squeeze(axis=0)
