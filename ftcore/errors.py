"""Errors a user can fix. The CLI prints them on one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in a recipe, the data, the command line or the environment.

    The message says what is wrong, where, and how to fix it.
    """


class RecipeError(UserError):
    """One or more problems in a recipe, all reported together.

    ``source`` says where the problems are (a recipe file, "command line"); ``sources``,
    when given, says it per problem (same length as ``problems``; a ``None`` entry means
    ``source``), e.g. when some problems come from overrides and others from the file.
    """

    def __init__(
        self, problems: list[str], source: str = "recipe", sources: list[str | None] | None = None
    ) -> None:
        self.problems = problems
        self.source = source
        self.sources = list(sources) if sources is not None else []
        if all(where == source for where, _ in self.located()):
            super().__init__(f"{source}: " + "; ".join(problems))
        else:
            super().__init__("; ".join(f"{where}: {p}" for where, p in self.located()))

    def located(self) -> list[tuple[str, str]]:
        """``(source, problem)`` for every problem, in order."""
        found = self.sources + [None] * (len(self.problems) - len(self.sources))
        return [(where or self.source, p) for where, p in zip(found, self.problems)]


class MissingPluginError(UserError):
    """A recipe names a component no installed plugin provides."""


# Said when a recipe names a component that no installed plugin provides: core names no
# plugin distribution, the generated plugin reference does.
PLUGINS_HINT = "docs/reference/plugins.md lists the plugins and what each provides; "


def did_you_mean(word: str, choices: list[str], prefix: str = "") -> str:
    """Return ``" (did you mean 'prefix.x'?)"`` for the closest choice, or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


class RunInterrupted(Exception):
    """SIGINT/SIGTERM stopped training after a step; a resumable checkpoint was saved."""


class NonFiniteError(Exception):
    """A NaN or Inf loss or gradient stopped the run (message says where and what was kept)."""
