"""Reference apps the benchmarks measure Tollgate against, served the same way."""
