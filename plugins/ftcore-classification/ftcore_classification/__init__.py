"""ftcore head plugin: text classification (single- and multi-label)."""
