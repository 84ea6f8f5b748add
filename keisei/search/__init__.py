"""Tree search over keisei's policy-value networks: one core (tree, select, leaves) under
two drivers, PUCT for play (mcts) and Gumbel for self-play (gumbel), and the USI engine."""
