"""Property-based: malformed recipes always end in one-line errors, never a traceback."""

from __future__ import annotations

import io
from contextlib import redirect_stderr

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftcore.cli import _report
from ftcore.errors import UserError
from ftcore.recipe import load_recipe
from ftcore.testing import build_hooks

VALID = {
    "task": "classification",
    "seed": 1,
    "model": {"name": "minilm"},
    "data": {"source": "csv", "options": {"path": "x.csv"}, "batch_size": 8, "max_length": 32},
    "optim": {"lr": 1e-3, "schedule": "linear"},
    "trainer": {"max_epochs": 1},
    "head": {"multi_label": False},
}
PATHS = [
    ("seed",),
    ("task",),
    ("model", "name"),
    ("data", "batch_size"),
    ("data", "max_length"),
    ("data", "source"),
    ("optim", "lr"),
    ("optim", "schedule"),
    ("trainer", "max_epochs"),
    ("head", "multi_label"),
    ("data", "options", "path"),
]
SECTIONS = ["model", "data", "optim", "trainer", "head", "data.options"]
HOOKS = build_hooks()

names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
junk = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.dictionaries(names, st.integers(), min_size=1, max_size=2),
    st.just([]),
    st.just({"x": {"y": 1}}),
)


def _copy() -> dict:
    return yaml.safe_load(yaml.safe_dump(VALID))


def _set(recipe: dict, path: tuple, value) -> dict:
    node = recipe
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return recipe


@st.composite
def unknown_key(draw):
    section = draw(st.sampled_from(SECTIONS)).split(".")
    key = "zz_" + draw(names)
    return _set(_copy(), (*section, key), draw(st.integers())) if section else None


@st.composite
def wrong_type(draw):
    return _set(_copy(), draw(st.sampled_from(PATHS)), draw(junk))


@st.composite
def bad_number(draw):
    path = draw(
        st.sampled_from(
            [("seed",), ("data", "batch_size"), ("trainer", "max_epochs"), ("optim", "lr")]
        )
    )
    return _set(_copy(), path, "n" + draw(names))


@st.composite
def bad_nesting(draw):
    section = draw(st.sampled_from(["model", "data", "optim", "trainer"]))
    return _set(_copy(), (section,), draw(st.one_of(st.integers(), names, st.lists(names))))


@st.composite
def broken_interpolation(draw):
    ref = draw(
        st.one_of(
            names.map(lambda n: "${" + n + "}"),
            names.map(lambda n: "${data." + n + "}"),
            st.just("${"),
            st.just("${oc.env:}"),
            st.just("${oc.nope:x}"),
        )
    )
    return _set(_copy(), draw(st.sampled_from(PATHS)), ref)


@st.composite
def huge_or_empty(draw):
    value = draw(st.sampled_from(["x" * 20_000, None, "", -5, 0]))
    path = draw(
        st.sampled_from(
            [
                ("model", "name"),
                ("data", "batch_size"),
                ("task",),
                ("data", "max_length"),
                ("trainer", "max_epochs"),
            ]
        )
    )
    return _set(_copy(), path, value)


@st.composite
def missing_required(draw):
    recipe = _copy()
    path = draw(st.sampled_from([("task",), ("model", "name"), ("data", "source")]))
    node = recipe
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return recipe


invalid_yaml = st.one_of(
    st.text(min_size=1, max_size=30).map(lambda t: "task: [" + t),
    st.text(min_size=1, max_size=30).map(lambda t: "data:\n\tbatch_size: " + t),
    st.sampled_from(
        [
            "- just\n- a list\n",
            "42\n",
            "'unterminated\n",
            "a: b: c\n",
            "key: {unclosed\n",
            "? complex\n: key\n",
            "data: !!python/object:os.system x\n",
        ]
    ),
)
malformed = st.one_of(
    unknown_key(),
    wrong_type(),
    bad_number(),
    bad_nesting(),
    broken_interpolation(),
    huge_or_empty(),
    missing_required(),
)


def _check(text: str, tmp_path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    try:
        load_recipe(str(path), [], HOOKS)
    except UserError as exc:  # anything else propagates: a traceback fails the test
        err = io.StringIO()
        with redirect_stderr(err):
            _report(exc)
        lines = err.getvalue().splitlines()
        assert lines and all(line.startswith("ftcore: error: ") for line in lines)
        assert all(len(line) < 400 for line in lines)
        return
    raise AssertionError(f"accepted a malformed recipe:\n{text[:500]}")


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(recipe=malformed)
def test_malformed_recipes_get_one_line_errors(recipe, tmp_path_factory):
    _check(yaml.safe_dump(recipe, sort_keys=False), tmp_path_factory.mktemp("r"))


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=invalid_yaml)
def test_invalid_yaml_gets_one_line_errors(text, tmp_path_factory):
    _check(text, tmp_path_factory.mktemp("y"))


def test_the_valid_base_is_valid(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(VALID))
    assert load_recipe(str(path), [], HOOKS).task == "classification"
