"""Target standardisation folded into the head's output layer, and back.

Inside ftcore the model predicts standardised targets ``z = (y - mean) / std``. At export
the inverse is folded into the last ``Linear`` with one output per target:
``W' = std * W`` and ``b' = std * b + mean``, so the saved model predicts original units.
What was folded is recorded in the model config (``ftcore_target_standardization``); a
model loaded from such a folder is unfolded again, so training and prediction code see one
convention. torch is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

CONFIG_KEY = "ftcore_target_standardization"


def head_layer(model: Any, num_targets: int) -> tuple[str, Any] | None:
    """``(name, module)`` of the last Linear layer with ``num_targets`` outputs, or None."""
    import torch

    found = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module.out_features == num_targets:
            found = (name, module)
    return found


def fold(model: Any, mean: list[float], std: list[float]) -> str:
    """Make ``model`` (in place) predict ``y`` instead of ``z``; return the layer's name."""
    import torch

    name, layer = _layer_with_bias(model, len(mean))
    scale, shift = _vectors(layer, mean, std)
    with torch.no_grad():
        layer.weight.mul_(scale[:, None])
        layer.bias.mul_(scale).add_(shift)
    setattr(model.config, CONFIG_KEY, {"layer": name, "mean": list(mean), "std": list(std)})
    return name


def unfold(model: Any) -> bool:
    """Undo a recorded fold (in place); False when the model carries none."""
    import torch

    record = getattr(model.config, CONFIG_KEY, None)
    if not record:
        return False
    layer = dict(model.named_modules())[record["layer"]]
    scale, shift = _vectors(layer, record["mean"], record["std"])
    with torch.no_grad():
        layer.bias.sub_(shift).div_(scale)
        layer.weight.div_(scale[:, None])
    delattr(model.config, CONFIG_KEY)
    return True


def can_fold(model: Any, num_targets: int) -> str | None:
    """Why the standardisation could not be folded into ``model``, or None."""
    found = head_layer(model, num_targets)
    if found is None:
        return f"the model has no Linear output layer with {num_targets} output(s)"
    if found[1].bias is None:
        return f"the output layer '{found[0]}' has no bias to hold the target mean"
    return None


def _layer_with_bias(model: Any, num_targets: int) -> tuple[str, Any]:
    why = can_fold(model, num_targets)
    if why is not None:
        raise ValueError(f"cannot fold the target standardisation: {why}")
    return head_layer(model, num_targets)


def _vectors(layer: Any, mean: list[float], std: list[float]) -> tuple[Any, Any]:
    import torch

    kwargs = {"dtype": layer.weight.dtype, "device": layer.weight.device}
    return torch.tensor(std, **kwargs), torch.tensor(mean, **kwargs)
