"""Tree search over keisei's policy-value networks (PUCT) and the USI engine built on it."""
