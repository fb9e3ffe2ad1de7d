FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY connectors ./connectors
COPY classifiers ./classifiers
COPY alerts ./alerts
RUN pip install --no-cache-dir .
COPY config ./config
RUN useradd --create-home nurserywatch && mkdir -p /app/data && chown nurserywatch /app/data
USER nurserywatch
EXPOSE 8080
CMD ["nurserywatch", "run", "--config", "config/docker.toml"]
