"""ftcore-datasets: the datasets a recipe names in ``data.source``.

Packaged real datasets read from pip packages (``rotten_tomatoes``, ``bbc_news``,
``vader_movie``, ``gsm8k``, ``hamlet``) and the user's own files (``csv``, ``jsonl``,
``parquet``). Importing this package is cheap: pandas and pyarrow load only when a
dataset is read.
"""

__version__ = "0.1.0"
