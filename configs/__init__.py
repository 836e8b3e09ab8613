"""Built-in configs (boards, model profiles, scenarios, agent hyperparameters), installed as package data."""
