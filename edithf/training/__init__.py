"""Training the EditHF evaluator: config, losses, the three-stage trainer."""
