"""The items of recipes/benchmark.py, one module each: `run(splits, args) -> dict` and `rows(result)`."""
