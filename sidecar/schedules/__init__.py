"""Schedules: recurring jobs that survive restarts, sleep and time zones, with an explicit offline policy.

* ``messages``: the wire types (params, the schedule record, firings, notifications, status);
* ``triggers``: every-N-seconds and five-field cron triggers, their next due times (cronsim);
* ``zones``: IANA time zones (the system's, tzdata where the OS has none);
* ``plan``: what to do with one schedule at one moment (pure: no I/O, no clock);
* ``clock``: the wall and monotonic clocks, and how a jump between them is noticed;
* ``store``: schedules and their firing history in the engine's state store;
* ``scheduler``: the loop and the operations behind the ``schedules.*`` methods.
"""
