"""Scorers behind one interface; create them by name with `create_evaluator`."""
