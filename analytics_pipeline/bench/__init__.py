"""Benchmark of the whole nightly pipeline against the sandbox LMS, side by side with the
machine's limits (COPY from a local file, raw HTTP transfer, one-statement SQL).

``harness.run_bench(BenchOptions(...))`` does everything and returns the result dict (also
written to ``bench/results/<profile>-<timestamp>.json``); ``cli`` plugs it into
``analytics-pipeline bench``; ``report.update_readme`` writes the README's Performance section.
"""
