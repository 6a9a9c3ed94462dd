"""ftcore head plugin: causal language models (instruction pairs and plain text)."""
