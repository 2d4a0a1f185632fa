"""Article ingestion as a Prefect flow: scan the inbox, then record the new articles and claims.

Run on its own by `keicast articles scan`; the pipeline runs the same steps (``ingest``) as its first stage,
inside its run lock. Their writes are their own transaction: evidence gathered from articles is kept even when
a later forecast gate fails, and it never changes a forecast by itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from keicast import warehouse
from keicast.articles import pending, scan
from keicast.config import RunRequest, Settings, load_settings
from keicast.errors import transient


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=transient)
def scan_inbox(settings: Settings, inbox: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claims of the inbox's new or changed articles, matched against the register."""
    known = warehouse.known_articles(settings.run.warehouse, settings.run.lock_timeout_seconds)
    return scan(inbox, settings.register, known)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=transient)
def record_scan(settings: Settings, articles: pd.DataFrame, claims: pd.DataFrame) -> None:
    """Store the scanned articles and claims in one transaction."""
    with warehouse.transaction(settings.run.warehouse, settings.run.lock_timeout_seconds) as con:
        warehouse.record_articles(con, articles, claims)


def ingest(settings: Settings, inbox: Path) -> dict:
    """Scan and record; returns what happened (counts and the files that were not articles)."""
    articles, claims = scan_inbox(settings, inbox)
    record_scan(settings, articles, claims)
    rejected = articles[articles.status != "processed"]
    summary = {
        "inbox": str(inbox),
        "new_or_changed": int((articles.status == "processed").sum()),
        "claims": len(claims),
        "not_processed": [{"path": r.path, "status": r.status, "message": r.message} for r in rejected.itertuples()],
    }
    get_run_logger().info("articles: %s", summary)
    return summary


def ingest_new(settings: Settings) -> dict | None:
    """The pipeline's article stage: scan the inbox when it holds anything new or changed; otherwise skip it at
    once (no heavy imports)."""
    inbox, run = settings.run.articles_dir, settings.run
    if inbox.is_dir() and pending(inbox, warehouse.known_articles(run.warehouse, run.lock_timeout_seconds)):
        return ingest(settings, inbox)
    get_run_logger().info("articles: nothing new in %s", inbox)
    return None


@flow(name="keicast-articles")
def keicast_articles(request: RunRequest = RunRequest(), directory: str | None = None) -> dict:
    """Read new or changed articles from the inbox (``directory``, default run.articles_dir) and record their
    claims, holding the warehouse's run lock."""
    settings = load_settings(request)
    inbox = Path(directory) if directory else settings.run.articles_dir
    if not inbox.is_dir():
        get_run_logger().info("no article inbox at %s; nothing to scan", inbox)
        return {"inbox": str(inbox), "new_or_changed": 0, "claims": 0, "not_processed": []}
    with warehouse.run_lock(settings.run.warehouse, settings.run.lock_timeout_seconds):
        return ingest(settings, inbox)
