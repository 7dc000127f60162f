"""Rate-limit policies: what is counted, how much is admitted, where."""
