"""Weight penalties for ftcore: L1/L2 toward zero, L2-SP/L1-SP toward the pretrained weights.

``penalties`` and ``select`` are pure functions; ``anchor`` holds the starting point
θ₀ and the chosen parameters; ``plugin`` wires them into ftcore's hooks.
"""
