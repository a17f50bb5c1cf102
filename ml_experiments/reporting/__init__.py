"""What a run or a set of runs shows: figures, tables and texts, returned as plain data.

Nothing here imports mlflow: `tracking` logs what these functions return, and a report
written to disk uses the very same functions.
"""
