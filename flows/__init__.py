"""Prefect flows: thin orchestration of keicast's pipeline steps."""

import keicast  # noqa: F401  first, so that its BLAS thread setting precedes the flows' numpy import
