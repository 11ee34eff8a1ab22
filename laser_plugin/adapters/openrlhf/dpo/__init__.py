"""Iterative DPO on OpenRLHF: arguments, data, the LASeR preference trainer, the round loop, its report."""
