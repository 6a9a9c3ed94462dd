"""ftcore evaluation plugin: honest evaluation and the decision to fine-tune."""
