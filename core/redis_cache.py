"""Django's Redis cache backend, keeping one redis-py client per connection pool.

Django's RedisCacheClient makes a new ``redis.Redis`` object on every cache call
(``get_client()``), which on this machine costs about as much CPU as the round trip to
Redis itself. A redis-py client holds no per-call state and is safe to share between
threads, so this backend makes one per pool, on first use, and hands it out after that.
Keys, serialisation, timeouts and the choice of server are Django's own: this changes
nothing but the object that sends the command. CACHES uses it whenever CACHE_URL is a
redis:// address (config/settings.py).
"""

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class KeptClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # the stubs know none of Django's private attributes
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            with self._clients_lock:
                client = self._clients[id(pool)] = django_client._client(connection_pool=pool)
        return client


class KeptClientRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient
