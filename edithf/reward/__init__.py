"""The evaluator as a reward: reward API, best-of-N, curation, DPO preference pairs."""
