"""The ground floor: configuration, models, database, store and shared types.

It imports no other project package. The stages (connectors, classifiers,
alerts) build on it; only the application (the rest of `monitor`) builds on
the stages. `tests/test_layers.py` holds the rule.
"""
