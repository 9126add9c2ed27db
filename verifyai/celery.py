"""The Celery app. Broker and results come from settings (Redis, or a local folder).

Three kinds of work, three queues, each with its own workers, so one never starves another:
``evaluations`` (model calls a web request is waiting for), ``webhooks`` (deliveries to
customers' receivers, which may be slow or hostile) and ``housekeeping`` (periodic jobs, pings).
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verifyai.settings")

app = Celery("verifyai")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _embedded_broker_options() -> None:
    """The filesystem broker needs no server: queues are folders under the data dir."""
    from django.conf import settings

    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    queue = Path(settings.DATA_DIR) / "celery" / "queue"
    processed = Path(settings.DATA_DIR) / "celery" / "processed"
    control = Path(settings.DATA_DIR) / "celery" / "control"
    for folder in (queue, processed, control, Path(settings.DATA_DIR) / "celery" / "results"):
        folder.mkdir(parents=True, exist_ok=True)
    # Messages are whole before a reader sees them, and exactly one reader claims each.
    app.conf.broker_transport = "verifyai.broker:Transport"
    app.conf.broker_transport_options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
        # An idle worker lists the folder this often: a new message waits at most this long.
        "polling_interval": 0.05,
    }


EVALUATIONS_QUEUE = "evaluations"
WEBHOOKS_QUEUE = "webhooks"
HOUSEKEEPING_QUEUE = "housekeeping"
QUEUES = (EVALUATIONS_QUEUE, WEBHOOKS_QUEUE, HOUSEKEEPING_QUEUE)

app.conf.update(
    task_default_queue=HOUSEKEEPING_QUEUE,
    task_routes={
        "verifications.*": {"queue": EVALUATIONS_QUEUE},
        "webhooks.deliver": {"queue": WEBHOOKS_QUEUE},
        # Only picks due ids and queues them: quick, and must run even while deliveries back up.
        "webhooks.deliver_due": {"queue": HOUSEKEEPING_QUEUE},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=False,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    beat_schedule={
        "purge-expired-idempotency-keys": {
            "task": "verifyai.purge_expired_idempotency_keys",
            "schedule": 3600.0,
        },
        # Deliveries are sent at once; this picks up retries and anything a lost task dropped.
        "deliver-due-webhooks": {
            "task": "webhooks.deliver_due",
            "schedule": 30.0,
        },
    },
)
app.on_after_configure.connect(lambda **_: _embedded_broker_options(), weak=False)
app.autodiscover_tasks()


@app.task(name="verifyai.ping")
def ping() -> str:
    """Round-trip check used by ``make run`` and tests; send it to the queue whose worker
    you want to hear from (``ping.apply_async(queue=...)``)."""
    return "pong"
