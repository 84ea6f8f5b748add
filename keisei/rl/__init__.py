"""Reinforcement learning: the network, the masked policy, GAE, the rollout buffer, PPO."""
