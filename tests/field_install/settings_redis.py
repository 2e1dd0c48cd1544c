"""The operator's set-up: visitor state in Redis, drained by ``personalize_worker``."""

import os

from fieldshop.settings import *  # noqa: F403

PERSONALIZE_STORE = "personalize.profiles.redis.RedisProfileStore"
PERSONALIZE_REDIS_URL = os.environ["FIELDSHOP_REDIS_URL"]
PERSONALIZE_REDIS_PREFIX = os.environ["FIELDSHOP_REDIS_PREFIX"]
