"""ftcore's kit for plugin authors, apart from the runtime.

- :mod:`ftcore_devkit.testing`: the pytest plugin (fixtures, tiny models, ``run_recipe``,
  ``resume_recipe``, ``HookRecorder``); opt in with ``pytest_plugins =
  ["ftcore_devkit.testing"]`` in a ``conftest.py`` or ``pytest -p ftcore_devkit.testing``;
- :mod:`ftcore_devkit.conformance`: the checks every plugin must pass;
- :mod:`ftcore_devkit.scaffold` and ``templates/``: ``ftcore new-plugin``, contributed to
  the CLI by :mod:`ftcore_devkit.plugin` through the ``ftcore_commands`` hook.
"""
