"""Issue 15.3: what a plugin's hook returns is checked; the plugin that answered is named.

Each check is one line naming the plugin, the module and function implementing the hook,
the hook, what was expected and what came back.
"""

from __future__ import annotations

import dataclasses
import types

import pytest

import ftcore
from ftcore import hookcheck
from ftcore.blame import plugin_failure
from ftcore.hookcheck import HookResultError
from ftcore.hooks import Hooks
from ftcore.manager import get_plugin_manager
from ftcore.types import Component


def _hooks(*plugins: object) -> Hooks:
    pm = get_plugin_manager(autoload=False)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
        hookcheck.check_results(pm, plugin)
    return Hooks(pm)


class StrProblems:
    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):
        return "head.x: wrong"  # a str, not a list of str


class BareCallback:
    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        return object()  # not a list


class DictTerms:
    @ftcore.hookimpl
    def ftcore_loss_terms(self, module, batch, output):
        return {"l2": 0.1}


class FloatTerm:
    @ftcore.hookimpl
    def ftcore_loss_terms(self, module, batch, output):
        return [("l2", 0.1)]


class Misspelt:
    @ftcore.hookimpl
    def ftcore_components(self):
        return [Component(kind="stratgy", name="ema")]


class NotADataclass:
    pass


@dataclasses.dataclass
class UndefinedType:
    decay: Undefind = None  # noqa: F821 - the mistake under test


def _schema(schema):
    class Plugin:
        @ftcore.hookimpl
        def ftcore_components(self):
            return [Component(kind="strategy", name="ema", schema=schema)]

    return Plugin()


def _error(call) -> str:
    with pytest.raises(HookResultError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_str_of_problems_is_one_error_not_one_per_character():
    message = _error(lambda: _hooks(StrProblems()).check_recipe(recipe=None))
    assert message.startswith(
        f"plugin 'p0' ({__name__}.StrProblems.ftcore_check_recipe) returned the "
        "wrong type from ftcore_check_recipe: expected list[str], got a str 'head.x: wrong'"
    )


def test_a_bare_callback_names_the_plugin():
    message = _error(lambda: _hooks(BareCallback()).lightning_callbacks(recipe=None, run=None))
    assert "BareCallback.ftcore_lightning_callbacks" in message
    assert "from ftcore_lightning_callbacks: expected list[" in message
    assert "got an object" in message


def test_a_dict_of_loss_terms_is_refused():
    message = _error(lambda: _hooks(DictTerms()).loss_terms(module=None, batch=None, output=None))
    assert "from ftcore_loss_terms: expected list[tuple[str, " in message
    assert "got a dict" in message


def test_a_float_loss_term_has_no_gradient():
    message = _error(lambda: _hooks(FloatTerm()).loss_terms(module=None, batch=None, output=None))
    assert "expected list[tuple[str, Tensor]], got a float 0.1 at [0][1]" in message


def test_a_tensor_loss_term_without_gradient_is_fine():
    import torch

    assert hookcheck.result_problem("ftcore_loss_terms", [("l2", torch.zeros(()))]) is None
    problem = hookcheck.result_problem("ftcore_loss_terms", [("l2", torch.zeros(3))])
    assert "of shape (3,)" in problem


def test_an_unknown_component_kind_gets_a_did_you_mean():
    message = _error(lambda: _hooks(Misspelt()).components())
    assert "component 'stratgy' 'ema': unknown kind (did you mean 'strategy'?)" in message


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (NotADataclass, f"its schema <class '{__name__}.NotADataclass'> is not a dataclass"),
        (UndefinedType, "its schema UndefinedType has a field type that does not resolve"),
        ({"decay": 0.9}, "is not a dataclass type"),
    ],
)
def test_a_bad_schema_is_refused_when_the_plugin_loads(schema, expected):
    message = _error(lambda: _hooks(_schema(schema)).components())
    assert expected in message


def test_none_is_always_an_answer():
    for hook in hookcheck.hook_names():
        assert hookcheck.result_problem(hook, None) is None


def test_every_hookspec_return_annotation_resolves():
    for hook in hookcheck.hook_names():
        hookcheck.expected_return(hook)  # raises if an annotation names an unknown type


def test_a_misspelt_hook_name_gets_a_did_you_mean():
    module = types.ModuleType("ftcore_mine")

    @ftcore.hookimpl
    def ftcore_componets():
        return []

    module.ftcore_componets = ftcore_componets
    assert hookcheck.unknown_hooks(module) == [
        "ftcore_componets is not an ftcore hook (did you mean 'ftcore_components'?)"
    ]


class Raiser:
    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):
        raise ValueError("boom")


class Quiet:
    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):
        return []


def test_blame_names_the_plugin_that_raised_not_its_package():
    # both plugins live in the same package (this module): the package cannot tell them apart
    hooks = _hooks(Quiet(), Raiser())
    with pytest.raises(ValueError) as caught:
        hooks.check_recipe(recipe=None)
    failure = plugin_failure(caught.value, hooks.pm)
    assert str(failure).startswith(
        "plugin 'p1' ((registered in code)) raised in ftcore_check_recipe "
        f"({__name__}.Raiser.ftcore_check_recipe): ValueError: boom"
    )
