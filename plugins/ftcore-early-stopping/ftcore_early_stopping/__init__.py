"""Early stopping for ftcore: Lightning's ``EarlyStopping`` configured from the recipe,
with the reason for stopping written to ``<run_dir>/early_stopping.json``."""
