"""Data: loading through dataset plugins, row checks, normalisation, encoding, batching."""
