"""ftcore plugin: bundled pretrained models (weights shipped in pip packages)."""
