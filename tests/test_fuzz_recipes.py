"""Property-based: malformed recipes always end in one-line errors, never a traceback."""

from __future__ import annotations

import io
import math
import typing
from contextlib import redirect_stderr, redirect_stdout

import pytest
import yaml
from ftcore_devkit.testing import build_hooks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftcore.cli import _report, main
from ftcore.errors import UserError
from ftcore.recipe import load_recipe
from ftcore.recipe.schema import RecipeConfig
from tests.helpers import schema_leaves

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


# --- numeric edge values on every numeric key (issue 14, items 5 and 6) ------------------
#
# Each numeric key of the core schema (found by walking its dataclasses) and of the plugin
# sections the shipped recipe `smoke` uses (the classification head, the rotten_tomatoes
# dataset's options, evaluation) gets +inf, -inf, NaN, -1, -5, 0, 1e20 and 10**30 on the
# command line of `ftcore validate smoke`. Each case must be refused in one line with exit
# code 2, or accepted. Every accepted core or head value that differs from the tiny test
# recipe's then trains on the tiny model (two steps, a validation, test and export): the run
# must export finite weights or end in a one-line error (a UserError or the NaN guard's
# NonFiniteError), never a traceback. Accepted data.options and evaluation values are not
# run: they need the real dataset and the full evaluation (not cheap).

SMOKE_SECTIONS = [
    ("head", "classification", "head."),
    ("dataset", "rotten_tomatoes", "data.options."),
]
SMOKE_SECTIONS += [("evaluation", "evaluation", "evaluation.")]
EDGES = {
    ".inf": math.inf,
    "-.inf": -math.inf,
    ".nan": math.nan,
    "-1": -1,
    "-5": -5,
    "0": 0,
    "1e20": 1e20,
    str(10**30): 10**30,
}


def _number_keys(schema: type, prefix: str) -> list[tuple[str, bool]]:
    """(dotted path, is a list) of every int/float field, nested dataclasses included."""
    found = []
    for path, args, _ in schema_leaves(schema, prefix):
        items = {x for a in args if typing.get_origin(a) is list for x in typing.get_args(a)}
        if args & {int, float}:
            found.append((path, False))
        elif items & {int, float}:
            found.append((path, True))
    return found


NUMBER_KEYS = _number_keys(RecipeConfig, "")
for _kind, _name, _prefix in SMOKE_SECTIONS:
    NUMBER_KEYS += _number_keys(HOOKS.find(_kind, _name, "test").component.schema, _prefix)


def _override(key: str, is_list: bool, text: str) -> str:
    return f"{key}=[{text},1]" if is_list else f"{key}={text}"


@pytest.fixture(scope="module")
def edge_outcomes() -> dict[str, tuple[int, str]]:
    """``ftcore validate smoke KEY=EDGE`` for every numeric key and edge value: override ->
    (exit code, stderr)."""
    found = {}
    for key, is_list in NUMBER_KEYS:
        for text in EDGES:
            override = _override(key, is_list, text)
            err = io.StringIO()
            with redirect_stderr(err), redirect_stdout(io.StringIO()):
                code = main(["validate", "smoke", override])  # a traceback fails the test
            found[override] = (code, err.getvalue())
    return found


def test_numeric_edges_are_refused_in_one_line_or_accepted(edge_outcomes):
    assert len(NUMBER_KEYS) >= 30 and {"optim.lr", "head.label_smoothing"} <= {
        k for k, _ in NUMBER_KEYS
    }
    for override, (code, err) in edge_outcomes.items():
        lines = err.splitlines()
        if code == 0:
            assert err == "", override
            continue
        assert code == 2, (override, err)
        assert len(lines) == 1 and lines[0].startswith("ftcore: error: "), (override, err)
        assert "Traceback" not in err and len(lines[0]) < 600, override
    for key in ("optim.lr", "optim.grad_clip", "optim.weight_decay", "head.label_smoothing"):
        for text in (".inf", "-.inf", ".nan"):
            assert edge_outcomes[f"{key}={text}"][0] == 2, key  # never a non-finite number


def test_accepted_numeric_edges_train_finite_weights_or_stop_in_one_line(
    edge_outcomes, tmp_path, tiny_model_dir
):
    from ftcore_devkit.testing import MemoryDataset, base_recipe, execute_recipe, make_rows
    from omegaconf import OmegaConf
    from safetensors.torch import load_file

    from ftcore.errors import NonFiniteError, RecipeError
    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate

    rows = {"train": make_rows(16), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
    hooks = build_hooks([MemoryDataset(rows)])
    recipe = base_recipe(tiny_model_dir)
    base = validate(OmegaConf.create(recipe), hooks, "test", "test")
    runs = []
    for override, (code, _) in edge_outcomes.items():
        key = override.split("=", 1)[0]
        if code != 0 or key.startswith(("data.options.", "evaluation.")):
            continue
        try:
            cfg = validate(apply_overrides(OmegaConf.create(recipe), [override]), hooks, "t", "t")
        except RecipeError as exc:  # refused for the tiny recipe (e.g. devices on cpu)
            assert "\n" not in str(exc), override
            continue
        if OmegaConf.select(cfg, key) != OmegaConf.select(base, key):
            runs.append(override)
    assert runs, "no accepted edge value to run"
    for i, override in enumerate(runs):
        out = tmp_path / f"run-{i}"
        try:
            execute_recipe(recipe, out, [override], hooks=hooks)
        except (UserError, NonFiniteError) as exc:  # printed as one line by ftcore's CLI
            assert "\n" not in str(exc).strip(), override
            continue
        weights = load_file(out / "model" / "model.safetensors")
        bad = [name for name, tensor in weights.items() if not tensor.isfinite().all()]
        assert not bad, (override, bad[:3])
