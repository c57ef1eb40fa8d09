"""One answer per Slack request, whatever retries, replicas and dead workers do.

`deliver_once(redis, request_id, post)` claims `sent:<request>` with SET NX before posting and marks
it sent after.  The claim expires (CLAIM_TTL_S) so a worker killed between claim and post does not
take the answer with it: the retried job waits for the claim to lapse and posts.  The one window
left is a worker killed after Slack accepted the post and before the mark (a few ms): then the
retry posts a second time.  Redis runs with appendonly, so the marks survive a restart.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from bot.queue.connection import key

log = logging.getLogger(__name__)

CLAIM_TTL_S = 30  # longer than a post with its 429 retries (3 × Retry-After of a few s)
SENT_TTL_S = 7 * 24 * 3600  # longer than any retry of any job (Slack's end after ~5 min)
WAIT_STEP_S = 0.25


def deliver_once(redis: Any, request_id: str, post: Callable[[], Any], holder: str) -> bool:
    """Run `post` unless this request was already answered; True if this call posted."""
    name = key("sent", request_id)
    deadline = time.monotonic() + CLAIM_TTL_S + 5
    while True:
        if redis.set(name, f"posting:{holder}", nx=True, ex=CLAIM_TTL_S):
            break
        current = redis.get(name)
        if current == b"sent":
            log.info("request %s already answered; not answering again", request_id)
            return False
        if time.monotonic() > deadline:  # a claim that never lapses: someone is still posting
            return False
        time.sleep(WAIT_STEP_S)
    try:
        post()
    except BaseException:
        redis.delete(name)  # not posted: the next attempt may post
        raise
    redis.set(name, b"sent", ex=SENT_TTL_S)
    return True


def already_sent(redis: Any, request_id: str) -> bool:
    return redis.get(key("sent", request_id)) == b"sent"
