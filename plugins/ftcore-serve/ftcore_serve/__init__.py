"""ftcore-serve: ``ftcore serve RUN_DIR``, a finished run behind LitServe."""
