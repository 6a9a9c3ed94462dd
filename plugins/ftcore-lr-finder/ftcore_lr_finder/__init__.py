"""The learning-rate range test (Smith 2017) for ftcore.

``curve`` turns a sweep's losses into a smoothed curve, suggestions and a reliability
verdict (pure functions); ``sweep`` runs Lightning's LR finder on the real recipe;
``plot`` draws the PNG; ``plugin`` wires ``optim.lr: auto`` and ``ftcore lr-find``.
"""
