"""Gradual unfreezing and discriminative learning rates for ftcore (ULMFiT, Howard & Ruder 2018).

``groups`` finds the layer groups, ``schedule`` decides when each one trains and at
which learning rate (pure functions), ``callbacks`` applies that to a running Trainer,
and ``plugin`` wires it into ftcore's hooks.
"""
