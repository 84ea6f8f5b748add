"""keisei: self-play deep reinforcement learning for Shogi with PPO."""

__version__ = "0.1.0"
