"""The one test evaluation and what it reports: the test-once record, the report and its plots,
error analysis, spelling games on the test split, and the Korean functional test suite."""
