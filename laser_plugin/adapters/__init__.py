"""Framework adapters. Only these modules import a training framework (openrlhf today)."""
