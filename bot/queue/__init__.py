"""Queue mode (CKPTBOT_QUEUE=rq): bot replicas acknowledge and enqueue, `ckptbot worker`s answer.

    connection.py  queue names, Redis keys, the connections each side uses
    enqueue.py     the replica's side: claim the Slack request, post the placeholder, enqueue one job
    middleware.py  the Bolt middleware that does it before Slack's 3 s acknowledgement leaves
    jobs.py        what a worker runs: the same service and isolation as in-process mode, then the answer
    delivery.py    answer once per Slack request (a marker in Redis set before posting)
    worker.py      `ckptbot worker`: an RQ worker with a liveness key and a reaper for abandoned jobs
    stats.py       `ckptbot queue stats`

The queue is RQ (Queue, SimpleWorker, Retry, job timeouts, StartedJobRegistry); nothing here is a
home-made queue.  Jobs carry JSON (rq's JSONSerializer), never pickles.
"""
