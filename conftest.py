"""The repository's tests (tests/ and plugins/*/tests) use ftcore's test kit.

The kit is opt-in, like pytester: a plugin's own tests write the same line in their
conftest.py, or run ``pytest -p ftcore_devkit.testing``.
"""

pytest_plugins = ["ftcore_devkit.testing"]
