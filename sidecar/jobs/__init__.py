"""Jobs: durable records, a bounded queue, a worker pool, progress and cancellation.

States follow seed 002 section 4 exactly: queued -> running -> succeeded |
failed | canceled (and queued -> canceled). Retries happen inside ``running``.
"""
