"""Jobs: durable records, a bounded queue, a worker pool, progress and cancellation.

States are the ones the app's job API was designed with: queued -> running ->
succeeded | failed | canceled (and queued -> canceled). Retries happen inside ``running``.
"""
