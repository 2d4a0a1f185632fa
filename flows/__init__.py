"""Prefect flows: thin orchestration of keicast's pipeline steps."""
