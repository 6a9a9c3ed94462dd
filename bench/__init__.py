"""ftcore's benchmark suite: ``python -m bench [--quick] [--full]`` (see docs/performance.md)."""
