"""The configuration's change channel: how one process tells every other to reread SQL.

A Redis pub/sub channel on the queue Redis (``RINGTRAIL_QUEUE_REDIS_URL``), which is
always a standalone server, even when leases live on Redis Cluster. A message only says
"the configuration changed": subscribers never take content from it, they read the
version row (``models.ConfigVersion``) and reload if it moved. So a lost, repeated or
forged message costs at most one cheap query.
"""

from __future__ import annotations

import logging
import os

import redis

log = logging.getLogger(__name__)


class ConfigChannel:
    """The one pub/sub name Ringtrail uses.

    - ``ringtrail:config`` (pub/sub channel, not a key): one message per committed change
      to agencies, clients, sites, pools or numbers; the body is the publisher's pid, for
      logs only.
    """

    def __init__(self, client: redis.Redis):
        self.client = client

    @property
    def name(self) -> str:
        return "ringtrail:config"

    def announce(self) -> bool:
        """Tell every subscribed process that the configuration changed; False if Redis
        could not be reached (they then see the version row move on their next poll).

        No retry: a hung Redis would hold the writer again. (A connection left dead by a
        Redis restart is replaced by redis-py's pool before the command is sent.)
        """
        try:
            self.client.publish(self.name, str(os.getpid()))
            return True
        except redis.RedisError as exc:
            log.warning("config: could not announce a change (%s); others will poll", exc)
            return False

    def subscribe(self) -> redis.client.PubSub:
        """A subscription (the SUBSCRIBE is sent, its confirmation arrives as a message)."""
        pubsub = self.client.pubsub()
        pubsub.subscribe(self.name)
        return pubsub
