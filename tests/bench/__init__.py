"""Benchmarks: the gateway side by side with bare Envoy, and the control plane at scale.

Run with `python -m tests.bench` (`make bench`) or `python -m tests.bench --smoke`
(`make bench-smoke`, what CI runs so the harness never rots). A scenario is one module under
`scenarios/`; the runner alternates each scenario's candidate and baseline round by round and
reports medians. Numbers never fail a run; only a broken harness does.
"""
