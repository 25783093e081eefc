"""The Celery `-A` target: `celery -A tasks.worker worker` (or `newsletter worker`)."""

from service import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
