"""ftcore head plugin: preference tuning (DPO, IPO, SimPO) of causal language models."""
