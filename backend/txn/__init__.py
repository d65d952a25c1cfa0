"""The transaction pipeline, below the services: actions (the call table), queue (the Celery
app and enqueue), nonces (one lock, one floor), signed (client-signed requests), executor (one
request at a time) and dispatcher (custodial requests in batches)."""
