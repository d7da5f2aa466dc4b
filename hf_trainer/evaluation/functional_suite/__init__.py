"""The Korean functional test suite: cases.tsv (built by build_cases.py), its README and licence."""
