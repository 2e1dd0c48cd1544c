"""How a shop deploys: DEBUG off and hashed static file names, so every static file
the app's templates and CSS name must be in the manifest."""

from fieldshop.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["localhost"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
