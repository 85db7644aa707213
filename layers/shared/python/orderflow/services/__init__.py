"""Use cases: each wires domain decisions to adapters. Handlers call exactly one of these."""
