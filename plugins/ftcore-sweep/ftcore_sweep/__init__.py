"""ftcore-sweep: ``ftcore sweep RECIPE``, a hyperparameter search over a recipe's keys."""
