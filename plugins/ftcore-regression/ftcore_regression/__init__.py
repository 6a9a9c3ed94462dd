"""ftcore head plugin: text regression (one or several numeric targets per text)."""
