"""Pure forecasting code: numbers and DataFrames in, numbers and DataFrames out.

No Prefect, no DuckDB, no file I/O lives here, so every function is testable in milliseconds.
"""
