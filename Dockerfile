# Chorus image: web (gunicorn) and worker (celery) run from the same image, as the unprivileged
# user `chorus` (issue 10): the code is root-owned and read-only to it; only var/ and /data
# (CHORUS_VAR_DIR in docker-compose.yml) are writable.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY annotation annotation
COPY training training
RUN pip install --no-cache-dir .
COPY . .
RUN CHORUS_SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home --uid 10001 --user-group chorus \
    && mkdir -p /app/var /data \
    && chown -R chorus:chorus /app/var /data
USER chorus
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
