"""Learning-analytics pipeline: a Dagster asset graph over an LMS read API and PostgreSQL."""
from setuptools import find_packages, setup

setup(
    name="analytics_pipeline",
    version="0.1.0",
    description="Batch learning-analytics pipeline (Dagster + pandas + PostgreSQL)",
    packages=find_packages(exclude=["tests", "tests.*"]),
    include_package_data=True,
    python_requires=">=3.11",
    # Ranges are the ones the test suite runs with (see README, "Versions").
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-postgres>=0.29,<0.30",
        "dagster-webserver>=1.13,<1.14",
        "pandas>=2.2,<4",
        "numpy>=1.26",
        "sqlalchemy>=2.0,<2.2",
        "psycopg[binary]>=3.2,<3.4",
        "psycopg2-binary>=2.9",  # dagster-postgres' driver (Dagster's own storage only)
        "requests>=2.31,<3",
        "great-expectations>=1.3,<2",
        "pgserver>=0.1.4,<0.2",
        "yoyo-migrations>=9.0,<10",
        "orjson>=3.10",
        "backoff>=2.2,<3",  # retries of the LMS API client (sources/client.py)
        "psutil>=5.9",
        "scikit-learn>=1.5,<2",
        "plotly>=5.20",
        "pyyaml>=6",
        "pyarrow>=15",
        "adbc-driver-postgresql>=1.13,<2",  # bulk.ArrowReader: large reads by binary COPY into Arrow
    ],
    extras_require={
        "celery": ["dagster-celery>=0.29,<0.30", "redis>=5"],
        "k8s": ["dagster-k8s>=0.29,<0.30"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",  # a hung test fails with every thread's stack instead of stalling CI
            "schemathesis>=4,<5",
            "dagster-celery>=0.29,<0.30",
            "redis>=5",
            "dagster-k8s>=0.29,<0.30",
            "playwright>=1.45",  # drives Debian's /usr/bin/chromium in tests/ui (no browser download)
        ],
    },
    entry_points={"console_scripts": ["analytics-pipeline=analytics_pipeline.cli:main"]},
)
