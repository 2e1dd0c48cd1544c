"""An older project's settings: naive local times, which personalize cannot log events in."""

from fieldshop.settings import *  # noqa: F403

USE_TZ = False
TIME_ZONE = "Europe/Berlin"
